'use client';
import { useQuery } from '@tanstack/react-query';
import Link from 'next/link';
import { timeAgo } from '../format';
import { useTRPC } from '../trpc/client';
import { Card } from '../ui/card';
import { SeverityBadge } from './alert-badges';

/** Open and acknowledged alerts, for the dashboard. */
export function OpenAlertsCard() {
  const trpc = useTRPC();
  const { data } = useQuery(trpc.alerts.list.queryOptions({ states: ['open', 'acknowledged'], limit: 8 }, { refetchInterval: 10_000 }));
  return (
    <Card title="Open alerts" actions={<Link href="/alerts" className="text-sm text-indigo-700 hover:underline">All alerts</Link>}>
      {!data || data.length === 0 ? (
        <p className="text-sm text-slate-500" data-testid="no-open-alerts">No open alerts.</p>
      ) : (
        <ul className="space-y-2 text-sm" data-testid="open-alerts">
          {data.map((a) => (
            <li key={a.id} className="flex items-start gap-2">
              <SeverityBadge severity={a.severity} />
              <Link href={`/alerts/${a.id}`} className="min-w-0 flex-1 text-slate-800 hover:underline">
                {a.message}
              </Link>
              <span className="whitespace-nowrap text-xs text-slate-500">{timeAgo(a.opened_at)}</span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
