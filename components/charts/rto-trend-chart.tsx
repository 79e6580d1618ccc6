'use client';
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export interface RtoPoint {
  at: string;
  /** Measured RTO of a passing drill, in seconds (extrapolated for sampled drills). */
  seconds: number;
  backup_id: string;
}

const short = (iso: string) => new Date(iso).toLocaleString(undefined, { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });

/**
 * Restore-drill RTO over time, oldest first. Seconds while
 * every point is under two minutes (small backups), minutes otherwise, so the axis stays readable.
 */
export function RtoTrendChart({ points }: { points: RtoPoint[] }) {
  const inMinutes = points.some((p) => p.seconds >= 120);
  const unit = inMinutes ? 'min' : 's';
  const data = points.map((p) => ({ ...p, label: short(p.at), value: Math.round((inMinutes ? p.seconds / 60 : p.seconds) * 100) / 100 }));
  return (
    <div className="h-48 w-full" data-chart="rto-trend">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={data} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={24} />
          <YAxis tick={{ fontSize: 11 }} width={48} unit={` ${unit}`} />
          <Tooltip formatter={(v) => [`${Number(v)} ${unit}`, 'RTO']} labelFormatter={(l) => String(l)} />
          <Line type="monotone" dataKey="value" stroke="#0d9488" strokeWidth={2} dot={{ r: 3 }} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
