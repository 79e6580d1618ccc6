'use client';
import { useQuery } from '@tanstack/react-query';
import { StorageUsageChart, type UsageSample } from '../charts/storage-usage-chart';
import { useTRPC } from '../trpc/client';
import { Card } from '../ui/card';

/** Storage used per location over the last day, from the health monitor's samples. */
export function StorageHistoryCard({ hours = 24 }: { hours?: number }) {
  const trpc = useTRPC();
  const used = useQuery(trpc.reports.metrics.queryOptions({ name: 'storage_used_bytes', hours }, { refetchInterval: 60_000 }));
  const pct = useQuery(trpc.reports.metrics.queryOptions({ name: 'storage_usage_percent', hours }, { refetchInterval: 60_000 }));
  const percentAt = new Map((pct.data?.series ?? []).map((s) => [`${s.at}|${s.labels.location ?? ''}`, s.value]));
  const samples: UsageSample[] = (used.data?.series ?? []).map((s) => {
    const location = s.labels.location ?? '';
    return { at: s.at, location, used_bytes: s.value, percent: percentAt.get(`${s.at}|${location}`) ?? null };
  });
  return (
    <Card title={`Storage used, last ${hours} h`}>
      {used.isPending ? null : samples.length === 0 ? (
        <p className="py-10 text-center text-sm text-slate-500" data-testid="no-usage-samples">
          No samples yet: the health monitor records one every health_check_interval seconds.
        </p>
      ) : (
        <StorageUsageChart samples={samples} from={Date.now() - hours * 3_600_000} to={Date.now()} />
      )}
    </Card>
  );
}
