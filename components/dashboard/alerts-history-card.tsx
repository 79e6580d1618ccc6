'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { OpenAlertsChart } from '../charts/open-alerts-chart';
import { useTRPC } from '../trpc/client';
import { Card } from '../ui/card';

/** Open alerts by severity over the last week. */
export function AlertsHistoryCard({ hours = 24 * 7 }: { hours?: number }) {
  const trpc = useTRPC();
  const { data } = useQuery(trpc.alerts.history.queryOptions({ hours }, { refetchInterval: 60_000 }));
  const none = data !== undefined && data.every((p) => p.warning + p.critical === 0);
  return (
    <Card title={`Open alerts, last ${hours % 24 === 0 ? `${hours / 24} days` : `${hours} h`}`} actions={<Link href="/alerts" className="text-sm text-indigo-700 hover:underline">All alerts</Link>}>
      {!data ? null : none ? (
        <p className="py-10 text-center text-sm text-slate-500" data-testid="no-alert-history">
          No alert was open in this period.
        </p>
      ) : (
        <OpenAlertsChart points={data} />
      )}
    </Card>
  );
}
