'use client';
import { Area, AreaChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { niceTicks, shortTime, timeDomain } from './ticks';

export interface OpenAlertsPoint {
  at: string;
  warning: number;
  critical: number;
}

/** Open alerts by severity over time, stacked; a step shape, since a count changes at an instant. */
export function OpenAlertsChart({ points }: { points: OpenAlertsPoint[] }) {
  const data = points.map((p) => ({ ...p, t: Date.parse(p.at) }));
  const ticks = niceTicks(Math.max(...data.map((d) => d.warning + d.critical), 1)).filter((t) => Number.isInteger(t));
  return (
    <div className="h-56 w-full" data-chart="open-alerts">
      <ResponsiveContainer width="100%" height="100%">
        <AreaChart data={data} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="t" type="number" scale="time" domain={timeDomain(data.map((d) => d.t))} tickFormatter={shortTime} tick={{ fontSize: 11 }} minTickGap={32} />
          <YAxis tick={{ fontSize: 11 }} width={32} allowDecimals={false} ticks={ticks} domain={[0, ticks[ticks.length - 1]!]} />
          <Tooltip labelFormatter={(l) => shortTime(Number(l))} />
          <Legend wrapperStyle={{ fontSize: 12 }} />
          <Area type="stepAfter" dataKey="critical" name="Critical" stackId="a" stroke="#dc2626" fill="#fca5a5" isAnimationActive={false} />
          <Area type="stepAfter" dataKey="warning" name="Warning" stackId="a" stroke="#d97706" fill="#fcd34d" isAnimationActive={false} />
        </AreaChart>
      </ResponsiveContainer>
    </div>
  );
}
