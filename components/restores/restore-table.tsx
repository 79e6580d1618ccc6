'use client';
import Link from 'next/link';
import { formatBytes, formatDate, formatDuration, plural } from '../format';
import type { RouterOutputs } from '../trpc/client';
import { StatusBadge } from '../ui/badge';
import { type Column, DataTable, type ServerSort } from '../ui/data-table';

export type RestoreJob = RouterOutputs['restores']['list']['jobs'][number];

function seconds(j: RestoreJob): number | null {
  if (!j.started_at) return null;
  const end = j.finished_at ? Date.parse(j.finished_at) : Date.now();
  return Math.max(0, (end - Date.parse(j.started_at)) / 1000);
}

/** What came of it: counts for a completed job, the lost files of a partial one, the reason for a failed one. */
function Outcome({ j }: { j: RestoreJob }) {
  if (j.status === 'completed' && j.result) {
    const lost = j.result.lost?.length ?? 0;
    return (
      <span>
        {plural(j.result.files_restored, 'file')}, {formatBytes(j.result.bytes_restored)}
        {lost > 0 && <span className="block text-amber-700">{plural(lost, 'file')} lost (partial restore)</span>}
      </span>
    );
  }
  if (j.status === 'failed')
    return (
      // Long reasons (shard ids, paths) are clamped to three lines; the whole text is in the tooltip and on the job.
      <span className="line-clamp-3 min-w-[16rem] max-w-md whitespace-normal break-words text-red-700" title={j.error ?? undefined}>
        {j.error}
      </span>
    );
  if (j.status === 'queued') return <span className="text-slate-500">waiting for a console or worker to start it</span>;
  const p = j.progress;
  return (
    <span className="tabular-nums">
      {p.percent.toFixed(1)}% · {formatBytes(p.bytes_done)} of {formatBytes(p.bytes_total)} · {p.files_done} of {plural(p.files_total, 'file')}
    </span>
  );
}

/** Restore jobs from the catalog (any console, the CLI): the Restores page (paged: `serverSort`) and a backup's page (its latest few, sorted here). */
export function RestoreTable({ jobs, showBackup = true, serverSort }: { jobs: RestoreJob[]; showBackup?: boolean; serverSort?: ServerSort }) {
  const columns: Column<RestoreJob>[] = [
    {
      key: 'restore',
      header: 'Restore',
      cell: (j) => (
        <div className="max-w-[18rem]">
          <div className="truncate font-mono text-xs text-slate-700">{j.restore_id}</div>
          <div className="truncate font-mono text-xs text-slate-500" title={j.target}>
            → {j.target}
          </div>
        </div>
      ),
    },
    ...(showBackup
      ? [
          {
            key: 'backup',
            header: 'Backup',
            sortValue: (j: RestoreJob) => j.backup_id,
            cell: (j: RestoreJob) => (
              <Link href={`/backups/${encodeURIComponent(j.backup_id)}`} className="font-mono text-xs text-indigo-700 hover:underline">
                {j.backup_id}
              </Link>
            ),
          },
        ]
      : []),
    { key: 'status', header: 'Status', sortValue: (j) => j.status, cell: (j) => <StatusBadge status={j.status} /> },
    { key: 'outcome', header: 'Outcome', cell: (j) => <Outcome j={j} /> },
    {
      key: 'who',
      header: 'Requested by',
      sortValue: (j) => j.actor,
      cell: (j) => (
        <span className="text-xs">
          {j.actor} <span className="text-slate-500">({j.via === 'cli' ? 'CLI' : 'console'})</span>
        </span>
      ),
    },
    { key: 'duration', header: 'Duration', align: 'right', sortValue: (j) => seconds(j), cell: (j) => (seconds(j) === null ? '—' : formatDuration(seconds(j))) },
    { key: 'requested', header: 'Requested', align: 'right', sortValue: (j) => j.created_at, cell: (j) => <span className="whitespace-nowrap text-xs text-slate-500">{formatDate(j.created_at)}</span> },
  ];
  return <DataTable columns={columns} rows={jobs} rowKey={(j) => j.restore_id} serverSort={serverSort} rowProps={(j) => ({ 'data-testid': 'restore-row', 'data-status': j.status } as never)} label="Restore jobs" />;
}
