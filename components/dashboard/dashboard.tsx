'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { HealthHistoryCard } from '../alerts/health-history-card';
import { OpenAlertsCard } from '../alerts/open-alerts-card';
import { BackupTable } from '../backups/backup-table';
import { BackupsPerDayChart } from '../charts/backups-per-day-chart';
import { ThroughputChart } from '../charts/throughput-chart';
import { formatBytes, formatPercent, formatRatio } from '../format';
import { DrillsCard } from './drills-card';
import { useCan } from '../session';
import { LocationHealthList } from '../storage/location-health-list';
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
        <Stat label="Success rate" value={formatPercent(data.last7d.success_rate ?? s.success_rate)} hint="completed ÷ finished, 7 days" />
        <Stat label="Data protected" value={formatBytes(s.total_original_bytes)} hint={`${s.completed_backups} completed backups`} />
        <Stat label="Stored" value={formatBytes(s.total_stored_bytes)} hint={`${s.unique_shards} unique shards, one copy`} />
        <Stat label="Compression · dedup" value={formatRatio(s.average_compression_ratio)} hint={`${formatPercent(s.average_dedup_ratio)} of data already stored`} />
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
                  <span className="text-xs text-slate-500">
                    {u.type} · {u.region}
                  </span>
                </div>
                <UsageBar used={u.used_bytes} capacity={u.capacity_bytes} />
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
      </div>
      <div className="grid gap-4 lg:grid-cols-2">
        <OpenAlertsCard />
        <HealthHistoryCard />
      </div>
    </div>
  );
}
