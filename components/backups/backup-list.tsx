'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { useCan } from '../session';
import { type RouterInputs, useTRPC } from '../trpc/client';
import { ButtonLink } from '../ui/button';
import { Pager } from '../ui/pager';
import { useServerSort } from '../ui/server-sort';
import { Card, PageHeader } from '../ui/card';
import { EmptyState, ErrorBox, Loading } from '../ui/feedback';
import { Field, Input, Select } from '../ui/form';
import { BackupTable } from './backup-table';

type Filter = Exclude<RouterInputs['backup']['list'], void | undefined>;
const PAGE = 25;
const STATUSES = ['completed', 'running', 'failed', 'pending'] as const;
const TYPES = ['full', 'incremental', 'differential', 'snapshot', 'continuous'] as const;
const SORT_KEYS = ['created', 'backup', 'status', 'type', 'size', 'files', 'duration'] as const satisfies readonly NonNullable<Filter['sort']>['key'][];

export function BackupList() {
  const trpc = useTRPC();
  const canCreate = useCan('backup.create');
  const [status, setStatus] = useState<Filter['status']>();
  const [backupType, setType] = useState<Filter['backupType']>();
  const [user, setUser] = useState('');
  const [tags, setTags] = useState('');
  const [offset, setOffset] = useState(0);
  const { sort, serverSort } = useServerSort(SORT_KEYS, { key: 'created', dir: 'desc' }, () => setOffset(0));
  const tagList = tags.split(',').map((t) => t.trim()).filter(Boolean);
  const input: Filter = { status, backupType, userId: user.trim() || undefined, tags: tagList.length ? tagList : undefined, sort, limit: PAGE, offset };
  const { data, error, isPending, isFetching } = useQuery(trpc.backup.list.queryOptions(input, { placeholderData: keepPreviousData, refetchInterval: 5_000 }));
  const filtered = Boolean(status || backupType || user.trim() || tagList.length);
  const reset = (fn: () => void) => {
    fn();
    setOffset(0);
  };
  return (
    <div className="space-y-4">
      <PageHeader title="Backups" subtitle={data ? `${data.total} backup${data.total === 1 ? '' : 's'}${filtered ? ' match' : ''}` : undefined} actions={canCreate ? <ButtonLink href="/backups/new">New backup</ButtonLink> : null} />
      <Card>
        <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
          <Field label="Status">
            <Select value={status ?? ''} onChange={(e) => reset(() => setStatus((e.target.value || undefined) as Filter['status']))}>
              <option value="">Any</option>
              {STATUSES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </Select>
          </Field>
          <Field label="Type">
            <Select value={backupType ?? ''} onChange={(e) => reset(() => setType((e.target.value || undefined) as Filter['backupType']))}>
              <option value="">Any</option>
              {TYPES.map((s) => (
                <option key={s}>{s}</option>
              ))}
            </Select>
          </Field>
          <Field label="User">
            <Input value={user} onChange={(e) => reset(() => setUser(e.target.value))} placeholder="email of the creator" />
          </Field>
          <Field label="Tags">
            <Input value={tags} onChange={(e) => reset(() => setTags(e.target.value))} placeholder="e.g. nightly, db" />
          </Field>
        </div>
      </Card>
      <ErrorBox error={error} title="Could not list backups" />
      {isPending ? (
        <Loading />
      ) : data && data.items.length === 0 ? (
        filtered ? (
          <EmptyState title="No backup matches these filters">Clear a filter to see more.</EmptyState>
        ) : (
          <EmptyState title="No backups yet" action={canCreate ? <ButtonLink href="/backups/new">Create your first backup</ButtonLink> : null}>
            {canCreate ? 'Back up a directory on this server, or some data you paste or upload.' : 'An operator or admin can create the first backup.'}
          </EmptyState>
        )
      ) : data ? (
        <Card>
          <BackupTable items={data.items} serverSort={serverSort} />
          <Pager offset={data.offset} shown={data.items.length} total={data.total} pageSize={PAGE} onChange={setOffset}>
            {isFetching && <span className="ml-2 text-xs text-slate-400">refreshing…</span>}
          </Pager>
        </Card>
      ) : null}
    </div>
  );
}
