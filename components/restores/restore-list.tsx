'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { type RouterInputs, useTRPC } from '../trpc/client';
import { Card, PageHeader } from '../ui/card';
import { EmptyState, ErrorBox, Loading } from '../ui/feedback';
import { Field, Select } from '../ui/form';
import { Pager } from '../ui/pager';
import { useServerSort } from '../ui/server-sort';
import { RestoreTable } from './restore-table';

type Filter = Exclude<RouterInputs['restores']['list'], void | undefined>;
const PAGE = 25;
const SORT_KEYS = ['requested', 'backup', 'status', 'who', 'duration'] as const satisfies readonly NonNullable<Filter['sort']>['key'][];

/** Restores started from any console or the CLI, newest first; refreshed while one is queued or running. */
export function RestoreList() {
  const trpc = useTRPC();
  const [status, setStatus] = useState<Filter['status']>();
  const [offset, setOffset] = useState(0);
  const { sort, serverSort } = useServerSort(SORT_KEYS, { key: 'requested', dir: 'desc' }, () => setOffset(0));
  const { data, error, isPending } = useQuery(
    trpc.restores.list.queryOptions(
      { status, sort, limit: PAGE, offset },
      { placeholderData: keepPreviousData, refetchInterval: (q) => (q.state.data?.jobs.some((j) => j.status === 'running' || j.status === 'queued') ? 2000 : 15_000) },
    ),
  );
  return (
    <div className="space-y-4">
      <PageHeader title="Restores" subtitle="Every restore, from any console or the CLI: who asked, where to, its progress and what came of it" />
      <Card>
        <div className="grid grid-cols-1 gap-3 sm:grid-cols-3">
          <Field label="Status">
            <Select value={status ?? ''} onChange={(e) => (setStatus((e.target.value || undefined) as Filter['status']), setOffset(0))} data-testid="restore-status-filter">
              <option value="">Any</option>
              <option value="queued">queued</option>
              <option value="running">running</option>
              <option value="completed">completed</option>
              <option value="failed">failed</option>
            </Select>
          </Field>
        </div>
      </Card>
      <ErrorBox error={error} title="Could not load the restores" />
      {isPending ? (
        <Loading />
      ) : data && data.jobs.length === 0 ? (
        <EmptyState title="No restores">{status ? `No ${status} restore.` : 'Restores started from a backup’s page or with plexichat-backup restore appear here.'}</EmptyState>
      ) : data ? (
        <Card>
          <RestoreTable jobs={data.jobs} serverSort={serverSort} />
          <Pager offset={offset} shown={data.jobs.length} total={data.total} pageSize={PAGE} onChange={setOffset} />
        </Card>
      ) : null}
    </div>
  );
}

/** The restores of one backup, on its page. */
export function BackupRestores({ backupId }: { backupId: string }) {
  const trpc = useTRPC();
  const { data, error } = useQuery(
    trpc.restores.list.queryOptions({ backupId, limit: 10, offset: 0 }, { refetchInterval: (q) => (q.state.data?.jobs.some((j) => j.status === 'running' || j.status === 'queued') ? 2000 : 15_000) }),
  );
  if (!data?.jobs.length && !error) return null;
  return (
    <Card title={`Restores of this backup${data && data.total > data.jobs.length ? ` (latest ${data.jobs.length} of ${data.total})` : ''}`}>
      <ErrorBox error={error} title="Could not load the restores" />
      {data && <RestoreTable jobs={data.jobs} showBackup={false} />}
    </Card>
  );
}
