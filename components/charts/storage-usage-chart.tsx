'use client';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { byteUnit, niceTicks, shortTime, timeDomain } from './ticks';

const COLORS = ['#4f46e5', '#059669', '#d97706', '#dc2626', '#0891b2', '#7c3aed'];

export interface UsageSample {
  at: string;
  location: string;
  used_bytes: number;
  /** Of the location's capacity, when it has one (max_size_gb or the disk's size). */
  percent: number | null;
}

/**
 * Bytes stored per location over time. Used bytes are recorded for every location, with or without a
 * capacity, so the chart always has data; the tooltip adds the share of the capacity where one is known.
 */
export function StorageUsageChart({ samples, from, to }: { samples: UsageSample[]; from?: number; to?: number }) {
  const locations = [...new Set(samples.map((s) => s.location))].sort();
  const { unit, div } = byteUnit(Math.max(...samples.map((s) => s.used_bytes), 0));
  const ticks = niceTicks(Math.max(...samples.map((s) => s.used_bytes / div), 0));
  const rows = new Map<number, Record<string, number>>();
  const percent = new Map<string, number>();
  for (const s of samples) {
    const t = Date.parse(s.at);
    const row = rows.get(t) ?? { t };
    row[s.location] = s.used_bytes / div;
    rows.set(t, row);
    if (s.percent !== null) percent.set(`${t}|${s.location}`, s.percent);
  }
  const data = [...rows.values()].sort((a, b) => a.t! - b.t!);
  return (
    <div className="h-56 w-full" data-chart="storage-usage-history">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={data} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="t" type="number" scale="time" domain={timeDomain(data.map((d) => d.t!), from, to)} tickFormatter={shortTime} tick={{ fontSize: 11 }} minTickGap={32} />
          <YAxis tick={{ fontSize: 11 }} width={68} ticks={ticks} domain={[0, ticks[ticks.length - 1]!]} unit={` ${unit}`} />
          <Tooltip
            labelFormatter={(l) => shortTime(Number(l))}
            formatter={(v, name, item) => {
              const pct = percent.get(`${(item.payload as { t: number }).t}|${String(name)}`);
              return [`${Number(v).toFixed(Number(v) < 10 ? 2 : 1)} ${unit}${pct === undefined ? '' : ` (${pct.toFixed(1)}% full)`}`, String(name)];
            }}
          />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          {locations.map((l, i) => (
            <Line key={l} type="stepAfter" dataKey={l} stroke={COLORS[i % COLORS.length]} strokeWidth={2} dot={false} isAnimationActive={false} connectNulls />
          ))}
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
