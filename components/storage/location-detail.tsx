'use client';
import { useQuery } from '@tanstack/react-query';
import { formatBytes, formatDate, plural } from '../format';
import { useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { ButtonLink } from '../ui/button';
import { Card, DefinitionList, PageHeader } from '../ui/card';
import { EmptyState, ErrorBox, Loading } from '../ui/feedback';
import { locationKind } from './location-label';
import { UsageBar } from './usage-bar';

export function LocationDetail({ name }: { name: string }) {
  const trpc = useTRPC();
  const usage = useQuery(trpc.storage.usage.queryOptions(undefined, { refetchInterval: 10_000 }));
  const health = useQuery(trpc.storage.health.queryOptions(undefined, { refetchInterval: 15_000 }));
  if (usage.isPending) return <Loading />;
  if (usage.error) return <ErrorBox error={usage.error} title="Could not load storage usage" />;
  const u = usage.data.find((x) => x.name === name);
  if (!u) {
    return (
      <EmptyState title={`No storage location named "${name}"`} action={<ButtonLink href="/storage" variant="secondary">All locations</ButtonLink>}>
        It may have been renamed or removed from the configuration.
      </EmptyState>
    );
  }
  const h = health.data?.find((x) => x.name === name);
  return (
    <div className="space-y-4">
      <PageHeader title={u.name} subtitle={<span className="font-mono text-xs">{u.where}</span>} actions={h ? <Badge tone={h.reachable ? 'green' : 'red'}>{h.reachable ? 'reachable' : 'unreachable'}</Badge> : null} />
      <Card title="Usage">
        <UsageBar usage={u} />
      </Card>
      <Card title="Details">
        <DefinitionList
          items={[
            ['Where', <span key="where" className="font-mono text-xs">{u.where}</span>],
            ['Type', locationKind(u)],
            ['Backups', plural(u.backups, 'backup')],
            ['Priority', `${u.priority} (lower is preferred)`],
            ['Used by backups', formatBytes(u.used_bytes)],
            ['Capacity', u.capacity_bytes ? `${formatBytes(u.capacity_bytes)} (${u.capacity_source === 'max_size_gb' ? 'max_size_gb' : 'file system'})` : 'not reported'],
            ['Free space', u.free_bytes === null ? '—' : `${formatBytes(u.free_bytes)} of ${formatBytes(u.total_bytes)} on the file system`],
            ['Shard replicas', String(u.objects)],
            ['Placement', u.healthy ? 'receiving new shards' : 'skipped for now (failing)'],
            ['Latency', h?.latency_ms != null ? `${h.latency_ms.toFixed(1)} ms` : '—'],
            ['Error rate', h ? `${(h.error_rate * 100).toFixed(2)}%` : '—'],
            ['Checked', formatDate(h?.checked_at)],
          ]}
        />
        <ErrorBox error={health.error} title="Health check failed" />
        {h?.last_error && <p className="mt-3 text-sm text-red-700">Last error: {h.last_error}</p>}
      </Card>
    </div>
  );
}
