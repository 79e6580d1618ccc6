'use client';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { niceTicks, shortTime, timeDomain } from './ticks';

export interface ThroughputPoint {
  at: string;
  mbps: number;
  backup_id: string;
}

/**
 * One point per completed backup, on a time axis (backups minutes apart are not drawn a day apart). A
 * monotone line never swings above or below its neighbouring samples; the y ticks are round numbers.
 */
export function ThroughputChart({ points }: { points: ThroughputPoint[] }) {
  const data = points.map((p) => ({ ...p, t: Date.parse(p.at) }));
  const ticks = niceTicks(Math.max(...data.map((d) => d.mbps), 0));
  return (
    <div className="h-56 w-full" data-chart="throughput">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={data} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="t" type="number" scale="time" domain={timeDomain(data.map((d) => d.t))} tickFormatter={shortTime} tick={{ fontSize: 11 }} minTickGap={32} />
          <YAxis tick={{ fontSize: 11 }} width={44} ticks={ticks} domain={[0, ticks[ticks.length - 1]!]} />
          <Tooltip formatter={(v) => [`${Number(v).toFixed(1)} MB/s`, 'Throughput']} labelFormatter={(l) => shortTime(Number(l))} />
          <Line type="monotone" dataKey="mbps" stroke="#4f46e5" strokeWidth={2} dot={{ r: 3 }} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
