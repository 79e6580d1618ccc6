'use client';
import { useQuery } from '@tanstack/react-query';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { useTRPC } from '../trpc/client';
import { Card } from '../ui/card';

const COLORS = ['#4f46e5', '#059669', '#d97706', '#dc2626', '#0891b2', '#7c3aed'];
const short = (iso: string) => new Date(iso).toLocaleString(undefined, { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });

/** Storage usage per location over the last day, from the health monitor's samples. */
export function HealthHistoryCard({ hours = 24 }: { hours?: number }) {
  const trpc = useTRPC();
  const { data } = useQuery(trpc.reports.metrics.queryOptions({ name: 'storage_usage_percent', hours }, { refetchInterval: 60_000 }));
  const series = data?.series ?? [];
  const locations = [...new Set(series.map((s) => s.labels.location ?? ''))];
  const rows = new Map<string, Record<string, number | string>>();
  for (const s of series) {
    const row = rows.get(s.at) ?? { label: short(s.at) };
    row[s.labels.location ?? ''] = s.value;
    rows.set(s.at, row);
  }
  return (
    <Card title={`Storage usage, last ${hours} h (%)`}>
      {rows.size === 0 ? (
        <p className="py-10 text-center text-sm text-slate-500">No samples yet: the health monitor records one every health_check_interval seconds.</p>
      ) : (
        <div className="h-56 w-full" data-chart="storage-usage-history">
          <ResponsiveContainer width="100%" height="100%">
            <LineChart data={[...rows.values()]} margin={{ top: 8, right: 12, bottom: 0, left: 0 }}>
              <CartesianGrid strokeDasharray="3 3" stroke="#e2e8f0" />
              <XAxis dataKey="label" tick={{ fontSize: 11 }} minTickGap={24} />
              <YAxis tick={{ fontSize: 11 }} width={40} domain={[0, 100]} />
              <Tooltip formatter={(v) => `${Number(v).toFixed(1)}%`} />
              <Legend />
              {locations.map((l, i) => (
                <Line key={l} type="monotone" dataKey={l} stroke={COLORS[i % COLORS.length]} strokeWidth={2} dot={false} isAnimationActive={false} />
              ))}
            </LineChart>
          </ResponsiveContainer>
        </div>
      )}
    </Card>
  );
}
