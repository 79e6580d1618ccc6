'use client';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export interface ThroughputPoint {
  at: string;
  mbps: number;
  backup_id: string;
}

const short = (iso: string) => new Date(iso).toLocaleString(undefined, { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });

export function ThroughputChart({ points }: { points: ThroughputPoint[] }) {
  const data = points.map((p) => ({ ...p, label: short(p.at) }));
  return (
    <div className="h-56 w-full" data-chart="throughput">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={data} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={24} />
          <YAxis tick={{ fontSize: 11 }} width={40} />
          <Tooltip formatter={(v) => [`${Number(v).toFixed(1)} MB/s`, 'Throughput']} labelFormatter={(l) => String(l)} />
          <Line type="monotone" dataKey="mbps" stroke="#4f46e5" strokeWidth={2} dot={{ r: 3 }} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
