'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { OpenAlertsCard } from '../alerts/open-alerts-card';
import { BackupTable } from '../backups/backup-table';
import { BackupsPerDayChart } from '../charts/backups-per-day-chart';
import { ThroughputChart } from '../charts/throughput-chart';
import { formatBytes, formatPercent, formatRatio, plural } from '../format';
import { AlertsHistoryCard } from './alerts-history-card';
import { ChangeRateCard } from './change-rate-card';
import { DrillsCard } from './drills-card';
import { StorageHistoryCard } from './storage-history-card';
import { useCan } from '../session';
import { LocationHealthList } from '../storage/location-health-list';
import { locationKind } from '../storage/location-label';
import { UsageBar } from '../storage/usage-bar';
import { useTRPC } from '../trpc/client';
import { ButtonLink } from '../ui/button';
import { Card, PageHeader, Stat } from '../ui/card';
import { EmptyState, ErrorBox, Loading } from '../ui/feedback';

export function Dashboard() {
  const trpc = useTRPC();
  const canCreate = useCan('backup.create');
  const { data, error, isPending } = useQuery(trpc.stats.get.queryOptions(undefined, { refetchInterval: 10_000 }));
  const newButton = canCreate ? <ButtonLink href="/backups/new">New backup</ButtonLink> : null;
  const actions = (
    <>
      <ButtonLink href="/reports" variant="secondary">
        Health report
      </ButtonLink>
      {newButton}
    </>
  );
  if (isPending) return <Loading />;
  if (error) return <ErrorBox error={error} title="Could not load the dashboard" />;
  const s = data.statistics;
  const rate = successRate(data.last7d.success_rate, s);
  const stored = s.completed_backups > 0;
  return (
    <div className="space-y-5">
      <PageHeader title="Dashboard" subtitle="Backups, storage and health at a glance" actions={actions} />
      {s.total_backups === 0 && (
        <EmptyState title="No backups yet" action={newButton}>
          {canCreate
            ? 'Start with a first backup: choose a directory on this server (or paste some data), then verify it and try a restore.'
            : 'Nothing has been backed up yet. An operator or admin can create the first backup.'}
        </EmptyState>
      )}
      <div className="grid grid-cols-2 gap-3 md:grid-cols-3 xl:grid-cols-6">
        <Stat label="Last 24 h" value={data.last24h.total} hint={`${data.last24h.completed} completed · ${data.last24h.failed} failed`} />
        <Stat label="Last 7 days" value={data.last7d.total} hint={`${data.last7d.completed} completed · ${data.last7d.failed} failed`} />
        <Stat label="Success rate" value={formatPercent(rate.value)} hint={rate.hint} />
        <Stat label="Data protected" value={formatBytes(s.total_original_bytes)} hint={`${plural(s.completed_backups, 'completed backup')}`} />
        <Stat label="Stored" value={formatBytes(s.total_stored_bytes)} hint={`${plural(s.unique_shards, 'unique shard')}, one copy`} />
        <Stat label="Compression · dedup" value={stored ? formatRatio(s.average_compression_ratio) : '—'} hint={stored ? `${formatPercent(s.average_dedup_ratio)} of data already stored` : 'no completed backup yet'} />
      </div>
      <div className="grid gap-4 lg:grid-cols-2">
        <Card title="Backup throughput (MB/s)">
          {data.throughput.length ? <ThroughputChart points={data.throughput} /> : <p className="py-16 text-center text-sm text-slate-500">No completed backups in the last 14 days.</p>}
        </Card>
        <Card title="Backups per day">
          <BackupsPerDayChart days={data.perDay} />
        </Card>
      </div>
      <div className="grid gap-4 lg:grid-cols-3">
        <Card title="Recent backups" className="lg:col-span-2" actions={<Link href="/backups" className="text-sm text-indigo-700 hover:underline">All backups</Link>}>
          {data.recent.length ? <BackupTable items={data.recent} compact /> : <p className="text-sm text-slate-500">Nothing yet.</p>}
        </Card>
        <Card title="Storage locations" actions={<Link href="/storage" className="text-sm text-indigo-700 hover:underline">Details</Link>}>
          <div className="space-y-4">
            {data.usage.map((u) => (
              <div key={u.name}>
                <div className="mb-1 flex items-center justify-between text-sm">
                  <Link href={`/storage/${encodeURIComponent(u.name)}`} className="font-medium text-slate-800 hover:underline">
                    {u.name}
                  </Link>
                  <span className="text-xs text-slate-500">{locationKind(u)}</span>
                </div>
                <p className="mb-1 truncate font-mono text-xs text-slate-500" title={u.where}>
                  {u.where}
                </p>
                <UsageBar usage={u} />
              </div>
            ))}
          </div>
          <div className="mt-4 border-t border-slate-100 pt-3">
            <LocationHealthList health={data.health} />
          </div>
        </Card>
      </div>
      <div className="grid gap-4 lg:grid-cols-2">
        <DrillsCard />
        <StorageHistoryCard />
      </div>
      <div className="grid gap-4 lg:grid-cols-2">
        <OpenAlertsCard />
        <AlertsHistoryCard />
      </div>
      <ChangeRateCard />
    </div>
  );
}

/**
 * The success rate of the last 7 days; with nothing finished in that window, the rate over all time; with
 * nothing finished ever, none ("—", not a reassuring 100 %).
 */
function successRate(last7d: number | null, s: { completed_backups: number; failed_backups: number; success_rate: number }): { value: number | null; hint: string } {
  if (last7d !== null) return { value: last7d, hint: 'completed ÷ finished, 7 days' };
  if (s.completed_backups + s.failed_backups > 0) return { value: s.success_rate, hint: 'completed ÷ finished, all time' };
  return { value: null, hint: 'no finished backup yet' };
}
