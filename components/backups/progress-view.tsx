'use client';
import { useQuery } from '@tanstack/react-query';
import { formatBytes, formatDuration } from '../format';
import { useTRPC } from '../trpc/client';
import { StatusBadge } from '../ui/badge';
import { ErrorBox } from '../ui/feedback';

const PHASES: Record<string, string> = { scanning: 'Scanning sources', backing_up: 'Backing up', finalizing: 'Writing the manifest', done: 'Done', failed: 'Failed' };

/** A backup's progress, polled every second until it completes or fails (one cache entry per backup, shared by every caller). */
export function useBackupProgress(backupId: string, enabled = true) {
  const trpc = useTRPC();
  return useQuery(
    trpc.backup.progress.queryOptions(
      { backupId },
      {
        refetchInterval: (q) => (q.state.data?.status === 'completed' || q.state.data?.status === 'failed' ? false : 1000),
        staleTime: 0,
        enabled,
      },
    ),
  );
}

/** Live progress of a backup: polls backup.progress every second until it completes or fails. */
export function ProgressView({ backupId }: { backupId: string }) {
  const { data: p, error } = useBackupProgress(backupId);
  if (error) return <ErrorBox error={error} title="Could not read progress" />;
  if (!p) return <p className="text-sm text-slate-500">Waiting for the first progress report…</p>;
  const pct = Math.max(0, Math.min(100, p.percent));
  return (
    <div className="space-y-3" data-testid="progress" data-status={p.status}>
      <div className="flex flex-wrap items-center justify-between gap-2 text-sm">
        <span className="flex items-center gap-2">
          <StatusBadge status={p.status} />
          <span className="text-slate-600" data-testid="progress-phase">
            {p.phase === 'queued' ? `queued (position ${p.queue_position ?? '?'}): waiting for a free slot (max_concurrent_backups)` : (PHASES[p.phase] ?? p.phase)}
          </span>
        </span>
        <span className="font-semibold tabular-nums">{pct.toFixed(1)}%</span>
      </div>
      <ProgressBar percent={pct} status={p.status} />
      <dl className="grid grid-cols-2 gap-3 text-sm sm:grid-cols-5">
        <Metric label="Bytes" value={`${formatBytes(p.bytes_done)} / ${formatBytes(p.bytes_total)}`} />
        <Metric label="Files" value={`${p.files_done} / ${p.files_total}`} />
        <Metric label="Shards" value={String(p.shards_done)} />
        <Metric label="Speed" value={`${p.throughput_mbps.toFixed(1)} MB/s`} />
        <Metric label="ETA" value={p.status === 'completed' ? 'done' : p.eta_seconds === null ? '—' : formatDuration(p.eta_seconds)} />
      </dl>
    </div>
  );
}

/** The bar of a running, completed or failed operation (backups and restores). */
export function ProgressBar({ percent, status }: { percent: number; status: string }) {
  const tone = status === 'failed' ? 'bg-red-500' : status === 'completed' ? 'bg-emerald-500' : 'bg-indigo-500';
  return (
    <div className="h-3 w-full overflow-hidden rounded-full bg-slate-100" role="progressbar" aria-valuenow={percent} aria-valuemin={0} aria-valuemax={100}>
      <div className={`h-full transition-all duration-500 ${tone}`} style={{ width: `${percent}%` }} />
    </div>
  );
}

export function Metric({ label, value }: { label: string; value: string }) {
  return (
    <div className="rounded-md bg-slate-50 px-3 py-2">
      <dt className="text-xs text-slate-500">{label}</dt>
      <dd className="font-medium tabular-nums text-slate-800">{value}</dd>
    </div>
  );
}

/** The page title follows the backup's live status (the page polls while it runs). */
export function backupTitle(status: string): string {
  if (status === 'pending') return 'Backup queued';
  if (status === 'running') return 'Backup in progress';
  if (status === 'failed') return 'Backup failed';
  if (status === 'completed') return 'Backup completed';
  return 'Backup';
}
