'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { formatDate } from '../format';
import { type RouterInputs, useTRPC } from '../trpc/client';
import { StatusBadge } from '../ui/badge';
import { Pager } from '../ui/pager';
import { useServerSort } from '../ui/server-sort';
import { Card, PageHeader } from '../ui/card';
import { DataTable } from '../ui/data-table';
import { FieldList } from '../ui/field-list';
import { EmptyState, ErrorBox, Loading } from '../ui/feedback';
import { Field, Input, Select } from '../ui/form';

type Filter = Exclude<RouterInputs['audit']['list'], void | undefined>;
const PAGE = 50;
const SORT_KEYS = ['at', 'actor', 'action', 'outcome', 'target'] as const satisfies readonly NonNullable<Filter['sort']>['key'][];

export function AuditLog() {
  const trpc = useTRPC();
  const [action, setAction] = useState('');
  const [actor, setActor] = useState('');
  const [outcome, setOutcome] = useState<Filter['outcome']>();
  const [offset, setOffset] = useState(0);
  const { sort, serverSort } = useServerSort(SORT_KEYS, { key: 'at', dir: 'desc' }, () => setOffset(0));
  const { data, error, isPending } = useQuery(
    trpc.audit.list.queryOptions({ action: action.trim() || undefined, actor: actor.trim() || undefined, outcome, sort, limit: PAGE, offset }, { placeholderData: keepPreviousData, refetchInterval: 10_000 }),
  );
  // The export takes the same filters, all pages.
  const exportHref = `/api/audit/export?${new URLSearchParams(Object.entries({ action: action.trim(), actor: actor.trim(), outcome: outcome ?? '' }).filter(([, v]) => v))}`;
  return (
    <div className="space-y-4">
      <PageHeader
        title="Audit log"
        subtitle="Sign-ins, lockouts, backups, restores, deletes, key use and user changes"
        actions={
          <a href={exportHref} download className="inline-flex items-center rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50">
            Export CSV
          </a>
        }
      />
      <Card>
        <div className="grid grid-cols-1 gap-3 sm:grid-cols-3">
          <Field label="Action starts with">
            <Input value={action} onChange={(e) => (setAction(e.target.value), setOffset(0))} placeholder="auth., backup.delete" />
          </Field>
          <Field label="Actor">
            <Input value={actor} onChange={(e) => (setActor(e.target.value), setOffset(0))} placeholder="email" />
          </Field>
          <Field label="Outcome">
            <Select value={outcome ?? ''} onChange={(e) => (setOutcome((e.target.value || undefined) as Filter['outcome']), setOffset(0))}>
              <option value="">Any</option>
              <option>success</option>
              <option>failure</option>
              <option>denied</option>
            </Select>
          </Field>
        </div>
      </Card>
      <ErrorBox error={error} title="Could not load the audit log" />
      {isPending ? (
        <Loading />
      ) : data && data.events.length === 0 ? (
        <EmptyState title="No events">Nothing matches; events appear here as people sign in and work with backups.</EmptyState>
      ) : data ? (
        <Card>
          <DataTable
            data-testid="audit-table"
            rows={data.events}
            rowKey={(e) => String(e.id)}
            serverSort={serverSort}
            columns={[
              { key: 'at', header: 'When (UTC)', className: 'whitespace-nowrap text-xs text-slate-500', sortValue: (e) => e.at, cell: (e) => formatDate(e.at) },
              { key: 'actor', header: 'Actor', className: 'min-w-[8rem] [overflow-wrap:anywhere]', sortValue: (e) => e.actor, cell: (e) => e.actor },
              { key: 'action', header: 'Action', sortValue: (e) => e.action, cell: (e) => <span className="font-mono text-xs">{e.action}</span> },
              { key: 'outcome', header: 'Outcome', sortValue: (e) => e.outcome, cell: (e) => <StatusBadge status={e.outcome} /> },
              { key: 'target', header: 'Target', className: 'min-w-[8rem] font-mono text-xs [overflow-wrap:anywhere]', sortValue: (e) => e.target, cell: (e) => e.target ?? '—' },
              { key: 'details', header: 'Details', className: 'min-w-[12rem]', cell: (e) => (Object.keys(e.details).length ? <FieldList fields={e.details} /> : null) },
            ]}
          />
          <Pager offset={offset} shown={data.events.length} total={data.total} pageSize={PAGE} onChange={setOffset} />
        </Card>
      ) : null}
    </div>
  );
}
