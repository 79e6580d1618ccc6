'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { formatDate } from '../format';
import { type RouterInputs, useTRPC } from '../trpc/client';
import { StatusBadge } from '../ui/badge';
import { Pager } from '../ui/pager';
import { Card, PageHeader } from '../ui/card';
import { EmptyState, ErrorBox, Loading } from '../ui/feedback';
import { Field, Input, Select } from '../ui/form';

type Filter = Exclude<RouterInputs['audit']['list'], void | undefined>;
const PAGE = 50;

export function AuditLog() {
  const trpc = useTRPC();
  const [action, setAction] = useState('');
  const [actor, setActor] = useState('');
  const [outcome, setOutcome] = useState<Filter['outcome']>();
  const [offset, setOffset] = useState(0);
  const { data, error, isPending } = useQuery(
    trpc.audit.list.queryOptions({ action: action.trim() || undefined, actor: actor.trim() || undefined, outcome, limit: PAGE, offset }, { placeholderData: keepPreviousData, refetchInterval: 10_000 }),
  );
  return (
    <div className="space-y-4">
      <PageHeader title="Audit log" subtitle="Sign-ins, lockouts, backups, restores, deletes, key use and user changes" />
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
          <div className="overflow-x-auto">
            <table className="w-full text-left text-sm">
              <thead className="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500">
                <tr>
                  <th className="py-2 pr-3 font-medium">When</th>
                  <th className="py-2 pr-3 font-medium">Actor</th>
                  <th className="py-2 pr-3 font-medium">Action</th>
                  <th className="py-2 pr-3 font-medium">Outcome</th>
                  <th className="hidden py-2 pr-3 font-medium md:table-cell">Target</th>
                  <th className="hidden py-2 font-medium lg:table-cell">Details</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {data.events.map((e) => (
                  <tr key={e.id} className="align-top">
                    <td className="whitespace-nowrap py-1.5 pr-3 text-xs text-slate-500">{formatDate(e.at)}</td>
                    <td className="max-w-[12rem] truncate py-1.5 pr-3">{e.actor}</td>
                    <td className="py-1.5 pr-3 font-mono text-xs">{e.action}</td>
                    <td className="py-1.5 pr-3">
                      <StatusBadge status={e.outcome} />
                    </td>
                    <td className="hidden max-w-[14rem] truncate py-1.5 pr-3 font-mono text-xs md:table-cell" title={e.target ?? ''}>
                      {e.target ?? '—'}
                    </td>
                    <td className="hidden max-w-[24rem] truncate py-1.5 font-mono text-xs text-slate-500 lg:table-cell" title={JSON.stringify(e.details)}>
                      {Object.keys(e.details).length ? JSON.stringify(e.details) : ''}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager offset={offset} shown={data.events.length} total={data.total} pageSize={PAGE} onChange={setOffset} />
        </Card>
      ) : null}
    </div>
  );
}
