'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { RtoTrendChart } from '../charts/rto-trend-chart';
import { formatBytes, formatDuration, timeAgo } from '../format';
import { useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { Card } from '../ui/card';
import { ErrorBox } from '../ui/feedback';

/**
 * Restore drills on the dashboard: the last drill of each backup source set (did its newest restore work,
 * and how long did it take) and the RTO trend of passing drills.
 */
export function DrillsCard() {
  const trpc = useTRPC();
  const { data, error } = useQuery(trpc.drills.list.queryOptions({ limit: 200 }, { refetchInterval: 30_000 }));
  const drills = data ?? [];
  const lastPerSource = new Map<string, (typeof drills)[number]>();
  for (const d of drills) if (!lastPerSource.has(d.sources.join(', '))) lastPerSource.set(d.sources.join(', '), d); // newest first
  const trend = drills
    .filter((d) => d.status === 'passed' && d.rto_seconds !== null)
    .slice(0, 50)
    .reverse()
    .map((d) => ({ at: d.started_at, seconds: d.rto_seconds!, backup_id: d.backup_id }));
  return (
    <Card title="Restore drills" className="lg:col-span-2">
      <ErrorBox error={error} title="Could not load the drills" />
      {data && !drills.length && <p className="text-sm text-slate-500">No restore drills yet. Run one from a backup&apos;s page, or add a schedule of type “drill”.</p>}
      {drills.length > 0 && (
        <div className="grid gap-4 lg:grid-cols-2" data-testid="drills-card">
          <table className="w-full text-sm">
            <thead>
              <tr className="text-left text-xs text-slate-500">
                <th className="py-1 pr-2 font-medium">Source</th>
                <th className="py-1 pr-2 font-medium">Last drill</th>
                <th className="py-1 pr-2 font-medium">RTO</th>
                <th className="py-1 font-medium">Checked</th>
              </tr>
            </thead>
            <tbody>
              {[...lastPerSource].map(([source, d]) => (
                <tr key={source} className="border-t border-slate-100" data-testid="drill-row">
                  <td className="max-w-[14rem] truncate py-1.5 pr-2" title={source}>
                    <Link href={`/backups/${d.backup_id}`} className="text-indigo-700 hover:underline">
                      {source}
                    </Link>
                  </td>
                  <td className="py-1.5 pr-2">
                    <Badge tone={d.status === 'passed' ? 'green' : d.status === 'failed' ? 'red' : 'slate'}>{d.status}</Badge> <span className="text-xs text-slate-500">{timeAgo(d.started_at)}</span>
                    {d.status === 'skipped' && <p className="text-xs text-slate-500" data-testid="drill-skipped-reason">needs the key holders&apos; quorum: run it from the CLI with --share</p>}
                  </td>
                  <td className="py-1.5 pr-2">{d.rto_seconds === null ? '—' : formatDuration(d.rto_seconds)}</td>
                  <td className="py-1.5 text-xs text-slate-600">
                    {d.files_checked} file(s), {formatBytes(d.bytes_checked)}
                    {d.sample_percent < 100 ? ` (${d.sample_percent} %)` : ''}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          <div>
            <p className="mb-1 text-xs text-slate-500">RTO of passing drills</p>
            {trend.length ? <RtoTrendChart points={trend} /> : <p className="py-12 text-center text-sm text-slate-500">No passing drill yet.</p>}
          </div>
        </div>
      )}
    </Card>
  );
}
