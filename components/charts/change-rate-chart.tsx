'use client';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { shortTime, timeDomain } from './ticks';

const COLORS = ['#4f46e5', '#059669', '#d97706', '#0891b2', '#7c3aed', '#db2777'];

export interface ChangePoint {
  at: string;
  source: string;
  /** Files new or changed, in % of the previous backup's files. */
  percent: number;
  suspicious: boolean;
}

/** Share of files changed per backup, one line per source; a suspicious backup's point is drawn red and large. */
export function ChangeRateChart({ points }: { points: ChangePoint[] }) {
  const sources = [...new Set(points.map((p) => p.source))].sort();
  const rows = new Map<number, Record<string, number>>();
  const flagged = new Set<string>();
  for (const p of points) {
    const t = Date.parse(p.at);
    const row = rows.get(t) ?? { t };
    row[p.source] = p.percent;
    rows.set(t, row);
    if (p.suspicious) flagged.add(`${t}|${p.source}`);
  }
  const data = [...rows.values()].sort((a, b) => a.t! - b.t!);
  return (
    <div className="h-56 w-full" data-chart="change-rate">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={data} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="t" type="number" scale="time" domain={timeDomain(data.map((d) => d.t!))} tickFormatter={shortTime} tick={{ fontSize: 11 }} minTickGap={32} />
          <YAxis tick={{ fontSize: 11 }} width={48} unit=" %" domain={[0, 'auto']} />
          <Tooltip
            labelFormatter={(l) => shortTime(Number(l))}
            formatter={(v, name, item) => [`${Number(v).toFixed(1)} %${flagged.has(`${(item.payload as { t: number }).t}|${String(name)}`) ? ' (suspicious)' : ''}`, String(name)]}
          />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {sources.map((s, i) => (
            <Line
              key={s}
              type="linear"
              dataKey={s}
              stroke={COLORS[i % COLORS.length]}
              strokeWidth={2}
              isAnimationActive={false}
              connectNulls
              dot={(props: { cx?: number; cy?: number; payload?: unknown; index?: number }) => {
                const t = (props.payload as { t?: number } | undefined)?.t;
                const bad = flagged.has(`${t}|${s}`);
                return <circle key={`${s}-${props.index}`} cx={props.cx} cy={props.cy} r={bad ? 5 : 2} fill={bad ? '#dc2626' : COLORS[i % COLORS.length]} />;
              }}
            />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
