'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { formatDate } from '../format';
import { useCan } from '../session';
import { useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { Card, PageHeader } from '../ui/card';
import { DataTable } from '../ui/data-table';
import { EmptyState, ErrorBox, Loading } from '../ui/feedback';
import { Field, Select } from '../ui/form';
import { AlertStateBadge, SeverityBadge } from './alert-badges';
import { AlertSettingsPanel } from './alert-settings-panel';

type State = 'open' | 'acknowledged' | 'resolved';
const VIEWS: Record<string, State[] | undefined> = { active: ['open', 'acknowledged'], open: ['open'], acknowledged: ['acknowledged'], resolved: ['resolved'], all: undefined };

export function AlertList() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canAck = useCan('alerts.acknowledge');
  const canConfigure = useCan('alerts.settings');
  const [view, setView] = useState('active');
  const [severity, setSeverity] = useState<'warning' | 'critical' | ''>('');
  const { data, error, isPending } = useQuery(trpc.alerts.list.queryOptions({ states: VIEWS[view], severity: severity || undefined, limit: 200 }, { refetchInterval: 10_000 }));
  const ack = useMutation(trpc.alerts.acknowledge.mutationOptions({ onSuccess: () => void qc.invalidateQueries({ queryKey: trpc.alerts.list.queryKey() }) }));
  return (
    <div className="space-y-4">
      <PageHeader title="Alerts" subtitle="Failed backups, unhealthy verifies, storage, schedules and restores" />
      <Card>
        <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
          <Field label="State">
            <Select value={view} onChange={(e) => setView(e.target.value)}>
              {Object.keys(VIEWS).map((v) => (
                <option key={v}>{v}</option>
              ))}
            </Select>
          </Field>
          <Field label="Severity">
            <Select value={severity} onChange={(e) => setSeverity(e.target.value as typeof severity)}>
              <option value="">Any</option>
              <option>warning</option>
              <option>critical</option>
            </Select>
          </Field>
        </div>
      </Card>
      <ErrorBox error={error ?? ack.error} title="Alerts" />
      {isPending ? (
        <Loading />
      ) : data && data.length === 0 ? (
        <EmptyState title="No alerts">Nothing matches these filters.</EmptyState>
      ) : data ? (
        <Card>
          <DataTable
            data-testid="alert-list"
            rows={data}
            rowKey={(a) => a.id}
            columns={[
              { key: 'severity', header: 'Severity', sortValue: (a) => (a.severity === 'critical' ? 0 : 1), cell: (a) => <SeverityBadge severity={a.severity} /> },
              { key: 'state', header: 'State', sortValue: (a) => a.state, cell: (a) => <AlertStateBadge state={a.state} /> },
              {
                key: 'message',
                header: 'Alert',
                sortValue: (a) => a.message,
                cell: (a) => (
                  <Link href={`/alerts/${a.id}`} className="text-slate-800 hover:underline">
                    {a.message}
                  </Link>
                ),
              },
              { key: 'opened', header: 'Opened (UTC)', className: 'whitespace-nowrap text-xs text-slate-500', sortValue: (a) => a.opened_at, cell: (a) => formatDate(a.opened_at) },
              {
                key: 'actions',
                header: <span className="sr-only">Actions</span>,
                align: 'right',
                cell: (a) =>
                  canAck && a.state === 'open' ? (
                    <Button variant="secondary" onClick={() => ack.mutate({ alertId: a.id })} busy={ack.isPending && ack.variables?.alertId === a.id}>
                      Acknowledge
                    </Button>
                  ) : null,
              },
            ]}
          />
        </Card>
      ) : null}
      {canConfigure && <AlertSettingsPanel />}
    </div>
  );
}
