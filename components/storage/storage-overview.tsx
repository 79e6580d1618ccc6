'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { formatBytes, plural } from '../format';
import { useCan } from '../session';
import { useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { Card, PageHeader } from '../ui/card';
import { EmptyState, ErrorBox, Loading } from '../ui/feedback';
import { ManageLocations } from './manage-locations';
import { StorageMaintenance } from './storage-maintenance';
import { locationKind } from './location-label';
import { UsageBar } from './usage-bar';

export function StorageOverview() {
  const trpc = useTRPC();
  const usage = useQuery(trpc.storage.usage.queryOptions(undefined, { refetchInterval: 10_000 }));
  const health = useQuery(trpc.storage.health.queryOptions(undefined, { refetchInterval: 30_000 }));
  const canManage = useCan('storage.listLocations');
  if (usage.isPending) return <Loading />;
  if (usage.error) return <ErrorBox error={usage.error} title="Could not load storage usage" />;
  const total = usage.data.reduce((s, u) => s + u.used_bytes, 0);
  return (
    <div className="space-y-4">
      <PageHeader title="Storage" subtitle={`${plural(usage.data.length, 'location')} · ${formatBytes(total)} stored across all replicas`} />
      <ErrorBox error={health.error} title="Health check failed" />
      {usage.data.length === 0 ? (
        <EmptyState title="No storage locations">{canManage ? 'Add one below, or under storage_locations in the configuration file (PLEXICHAT_CONFIG) and restart.' : 'An admin adds them in the console or in the configuration file.'}</EmptyState>
      ) : (
        <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-3">
          {usage.data.map((u) => {
            const h = health.data?.find((x) => x.name === u.name);
            return (
              <Card
                key={u.name}
                title={
                  <Link href={`/storage/${encodeURIComponent(u.name)}`} className="hover:underline">
                    {u.name}
                  </Link>
                }
                actions={h ? <Badge tone={h.reachable ? 'green' : 'red'}>{h.reachable ? 'reachable' : 'unreachable'}</Badge> : <Badge>checking…</Badge>}
              >
                <p className="mb-2 break-all font-mono text-xs text-slate-700" data-testid="location-where" title="Where this location keeps its objects">
                  {u.where}
                </p>
                <UsageBar usage={u} />
                <dl className="mt-3 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 text-xs text-slate-600">
                  <dt>Type</dt>
                  <dd className="text-right font-medium text-slate-800">{locationKind(u)}</dd>
                  <dt>Backups</dt>
                  <dd className="text-right font-medium tabular-nums text-slate-800" data-testid="location-backups">
                    {plural(u.backups, 'backup')}
                  </dd>
                  <dt>Free space</dt>
                  <dd className="text-right font-medium tabular-nums text-slate-800" data-testid="location-free">
                    {u.free_bytes === null ? '—' : formatBytes(u.free_bytes)}
                  </dd>
                  <dt>Priority</dt>
                  <dd className="text-right font-medium text-slate-800">{u.priority}</dd>
                  <dt>Shard replicas</dt>
                  <dd className="text-right font-medium tabular-nums text-slate-800">{u.objects}</dd>
                  <dt>Latency</dt>
                  <dd className="text-right font-medium tabular-nums text-slate-800">{h?.latency_ms != null ? `${h.latency_ms.toFixed(1)} ms` : '—'}</dd>
                  <dt>Error rate</dt>
                  <dd className="text-right font-medium tabular-nums text-slate-800">{h ? `${(h.error_rate * 100).toFixed(2)}%` : '—'}</dd>
                </dl>
                {h?.last_error && <p className="mt-2 text-xs text-red-700">Last error: {h.last_error}</p>}
              </Card>
            );
          })}
        </div>
      )}
      {canManage && <ManageLocations />}
      {canManage && <StorageMaintenance />}
    </div>
  );
}
