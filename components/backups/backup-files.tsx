'use client';
import { keepPreviousData, useQuery } from '@tanstack/react-query';
import { useEffect, useState } from 'react';
import { formatBytes, formatDate } from '../format';
import { useCan } from '../session';
import { type RouterInputs, type RouterOutputs, useTRPC } from '../trpc/client';
import { Card } from '../ui/card';
import { ErrorBox, Loading } from '../ui/feedback';
import { Input } from '../ui/form';
import { type Column, DataTable } from '../ui/data-table';
import { Pager } from '../ui/pager';
import { useServerSort } from '../ui/server-sort';

const PAGE = 50;
const SORT_KEYS = ['path', 'size', 'mtime'] as const satisfies readonly NonNullable<RouterInputs['backup']['files']['sort']>['key'][];

/** What a backup holds, from its manifest: search by path, page through, download a file (roles that may restore). */
export function BackupFiles({ backupId }: { backupId: string }) {
  const trpc = useTRPC();
  const canDownload = useCan('backup.recover');
  const [typed, setTyped] = useState('');
  const [filter, setFilter] = useState('');
  const [offset, setOffset] = useState(0);
  // None: the manifest's order (the walk's).
  const { sort, serverSort } = useServerSort(SORT_KEYS, null, () => setOffset(0));
  useEffect(() => {
    const t = setTimeout(() => {
      setFilter(typed);
      setOffset(0);
    }, 300);
    return () => clearTimeout(t);
  }, [typed]);
  const { data, error, isPending } = useQuery(trpc.backup.files.queryOptions({ backupId, filter: filter || undefined, sort, limit: PAGE, offset }, { placeholderData: keepPreviousData }));
  return (
    <Card title="Files" actions={<Input aria-label="Search files" value={typed} onChange={(e) => setTyped(e.target.value)} placeholder="Search by path" className="w-56" />}>
      <ErrorBox error={error} title="Could not read the file list" />
      {isPending && <Loading />}
      {data && (
        <>
          <DataTable columns={fileColumns(backupId, canDownload)} rows={data.entries} rowKey={(f) => f.path} serverSort={serverSort} data-testid="backup-files" />
          {data.total === 0 ? <p className="py-2 text-sm text-slate-500">No file matches.</p> : <Pager offset={offset} shown={data.entries.length} total={data.total} pageSize={PAGE} onChange={setOffset} small />}
        </>
      )}
    </Card>
  );
}

type Entry = RouterOutputs['backup']['files']['entries'][number];

function fileColumns(backupId: string, canDownload: boolean): Column<Entry>[] {
  const cols: Column<Entry>[] = [
    {
      key: 'path',
      header: 'Path',
      sortValue: (f) => f.path,
      className: 'break-all font-mono text-xs',
      cell: (f) => (
        <>
          {f.path}
          {f.type !== 'file' && <span className="ml-1 text-slate-400">({f.type})</span>}
        </>
      ),
    },
    { key: 'size', header: 'Size', align: 'right', sortValue: (f) => (f.type === 'file' ? f.size : null), className: 'whitespace-nowrap', cell: (f) => (f.type === 'file' ? formatBytes(f.size) : '') },
    { key: 'mtime', header: 'Modified', sortValue: (f) => f.mtime, className: 'whitespace-nowrap text-xs text-slate-500', cell: (f) => formatDate(f.mtime) },
  ];
  if (canDownload)
    cols.push({
      key: 'download',
      header: <span className="sr-only">Download</span>,
      align: 'right',
      cell: (f) =>
        f.type === 'file' && (
          <a className="text-indigo-700 hover:underline" href={`/api/backups/${encodeURIComponent(backupId)}/file?path=${encodeURIComponent(f.path)}`} download>
            Download
          </a>
        ),
    });
  return cols;
}
