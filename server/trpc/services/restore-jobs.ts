/**
 * Restores started from the console run in the background of the server process, so a restore of many
 * gigabytes neither holds an HTTP request open nor leaves the browser without progress: the procedure
 * returns a job at once, and the page polls its progress (bytes, files, throughput, ETA) until the result or
 * the error. Jobs live in this process (on globalThis, so `next dev` reloads keep them) and are forgotten an
 * hour after they end.
 */
import { randomBytes } from 'node:crypto';
import type { RestoreOptions, RestoreResult } from '../../engine/types';
import { watchRestore } from '../../monitoring/hooks';
import type { EngineApi } from './types';

export interface RestoreJob {
  restore_id: string;
  backup_id: string;
  target: string;
  actor: string;
  status: 'running' | 'completed' | 'failed';
  started_at: string;
  finished_at: string | null;
  progress: { bytes_done: number; bytes_total: number; files_done: number; files_total: number; percent: number; throughput_mbps: number; eta_seconds: number | null };
  result: RestoreResult | null;
  error: string | null;
}

const KEEP_MS = 60 * 60_000;
type Holder = typeof globalThis & { __plexichatRestoreJobs?: Map<string, RestoreJob> };
const jobs = ((globalThis as Holder).__plexichatRestoreJobs ??= new Map<string, RestoreJob>());

export interface RestoreJobChecks {
  /**
   * Checks the target again when the job starts (a symlink swapped in since the request was checked) and
   * returns the real path to restore into; a refusal fails the job with its message.
   */
  checkTarget?: () => Promise<string>;
}

export function startRestoreJob(engine: EngineApi, backupId: string, opts: RestoreOptions, actor: string, checks: RestoreJobChecks = {}): RestoreJob {
  const started = Date.now();
  const job: RestoreJob = {
    restore_id: `restore_${started}_${randomBytes(3).toString('hex')}`,
    backup_id: backupId,
    target: opts.target,
    actor,
    status: 'running',
    started_at: new Date(started).toISOString(),
    finished_at: null,
    progress: { bytes_done: 0, bytes_total: 0, files_done: 0, files_total: 0, percent: 0, throughput_mbps: 0, eta_seconds: null },
    result: null,
    error: null,
  };
  jobs.set(job.restore_id, job);
  const onProgress = (p: { bytesDone: number; bytesTotal: number; filesDone: number; filesTotal: number }) => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001);
    const rate = p.bytesDone / seconds;
    job.progress = {
      bytes_done: p.bytesDone,
      bytes_total: p.bytesTotal,
      files_done: p.filesDone,
      files_total: p.filesTotal,
      percent: p.bytesTotal > 0 ? Math.min(100, (p.bytesDone / p.bytesTotal) * 100) : 0,
      throughput_mbps: rate / 1_048_576,
      eta_seconds: rate > 0 ? Math.max(0, (p.bytesTotal - p.bytesDone) / rate) : null,
    };
  };
  const finish = (patch: Partial<RestoreJob>) => {
    Object.assign(job, patch, { finished_at: new Date().toISOString() });
    setTimeout(() => jobs.delete(job.restore_id), KEEP_MS).unref();
  };
  const run = async () => {
    const target = checks.checkTarget ? await checks.checkTarget() : opts.target;
    job.target = target;
    return engine.restoreBackup(backupId, { ...opts, target, actor, onProgress });
  };
  watchRestore(engine, backupId, run).then(
    (result) => finish({ status: 'completed', result, progress: { ...job.progress, percent: 100, eta_seconds: 0 } }),
    (err: unknown) => finish({ status: 'failed', error: (err as Error).message }),
  );
  return { ...job };
}

/** A job of this process, or null (unknown id, or ended more than an hour ago). */
export function getRestoreJob(id: string): RestoreJob | null {
  const job = jobs.get(id);
  return job ? { ...job } : null;
}
