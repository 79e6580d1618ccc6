'use client';
import Link from 'next/link';
import type { Backup } from '../trpc/client';
import { formatBytes, formatDuration, timeAgo } from '../format';
import { StatusBadge } from '../ui/badge';
import { SuspiciousBadge } from './suspicious-change';
import { type Column, DataTable, type ServerSort } from '../ui/data-table';

const COLUMNS: (Column<Backup> & { full?: boolean })[] = [
  {
    key: 'backup',
    header: 'Backup',
    sortValue: (b) => b.backup_id,
    className: 'max-w-[16rem]',
    cell: (b) => (
      <>
        <Link href={`/backups/${encodeURIComponent(b.backup_id)}`} className="block truncate font-mono text-xs text-indigo-700 hover:underline">
          {b.backup_id}
        </Link>
        <div className="truncate text-xs text-slate-500" title={b.sources.join('\n')}>
          {b.sources.join(', ')}
        </div>
      </>
    ),
  },
  { key: 'status', header: 'Status', sortValue: (b) => b.status, cell: (b) => (
      <span className="flex flex-wrap gap-1">
        <StatusBadge status={b.status} />
        <SuspiciousBadge b={b} />
      </span>
    ) },
  { key: 'type', header: 'Type', full: true, sortValue: (b) => b.backup_type, className: 'hidden md:table-cell', cell: (b) => b.backup_type },
  { key: 'size', header: 'Size', align: 'right', sortValue: (b) => (b.status === 'completed' ? b.original_size : null), cell: (b) => (b.status === 'completed' ? formatBytes(b.original_size) : '—') },
  { key: 'files', header: 'Files', full: true, align: 'right', sortValue: (b) => (b.status === 'completed' ? b.file_count : null), className: 'hidden sm:table-cell', cell: (b) => (b.status === 'completed' ? b.file_count : '—') },
  { key: 'duration', header: 'Duration', full: true, align: 'right', sortValue: (b) => (b.status === 'completed' ? b.duration_seconds : null), className: 'hidden lg:table-cell', cell: (b) => (b.status === 'completed' ? formatDuration(b.duration_seconds) : '—') },
  {
    key: 'tags',
    header: 'Tags',
    full: true,
    className: 'hidden lg:table-cell',
    cell: (b) => (
      <div className="flex flex-wrap gap-1">
        {b.tags.map((t) => (
          <span key={t} className="rounded bg-slate-100 px-1.5 py-0.5 text-xs text-slate-600">
            {t}
          </span>
        ))}
      </div>
    ),
  },
  {
    key: 'created',
    header: 'Created',
    align: 'right',
    sortValue: (b) => b.created_at,
    className: 'whitespace-nowrap',
    cell: (b) => (
      <span className="text-xs text-slate-500" title={b.created_at}>
        {timeAgo(b.created_at)}
      </span>
    ),
  },
];

/** Backups in the server's order; a paged list passes `serverSort` (the server sorts every backup), a short one sorts the rows shown. */
export function BackupTable({ items, compact = false, serverSort }: { items: Backup[]; compact?: boolean; serverSort?: ServerSort }) {
  return <DataTable columns={compact ? COLUMNS.filter((c) => !c.full) : COLUMNS} rows={items} rowKey={(b) => b.backup_id} rowProps={() => ({ className: 'hover:bg-slate-50' })} serverSort={serverSort} data-testid="backup-table" />;
}
