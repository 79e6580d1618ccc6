'use client';
import { CartesianGrid, Line, LineChart, ReferenceLine, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';

export interface RtoPoint {
  at: string;
  /** Measured RTO of a passing drill, in minutes (extrapolated for sampled drills). */
  minutes: number;
  backup_id: string;
}

const short = (iso: string) => new Date(iso).toLocaleString(undefined, { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });

/** Restore-drill RTO over time, oldest first, with the objective as a dashed line when known. */
export function RtoTrendChart({ points, objectiveMinutes }: { points: RtoPoint[]; objectiveMinutes?: number }) {
  const data = points.map((p) => ({ ...p, label: short(p.at) }));
  return (
    <div className="h-48 w-full" data-chart="rto-trend">
      <ResponsiveContainer width="100%" height="100%">
        <LineChart data={data} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
          <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={24} />
          <YAxis tick={{ fontSize: 11 }} width={48} />
          <Tooltip formatter={(v) => [`${Number(v) < 1 ? `${(Number(v) * 60).toFixed(1)} s` : `${Number(v).toFixed(1)} min`}`, 'RTO']} labelFormatter={(l) => String(l)} />
          {objectiveMinutes !== undefined && <ReferenceLine y={objectiveMinutes} stroke="#d97706" strokeDasharray="4 4" />}
          <Line type="monotone" dataKey="minutes" stroke="#0d9488" strokeWidth={2} dot={{ r: 3 }} isAnimationActive={false} />
        </LineChart>
      </ResponsiveContainer>
    </div>
  );
}
