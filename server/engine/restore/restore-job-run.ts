/**
 * Runs one claimed restore job in this process: re-checks its target, restores, and keeps the catalog row
 * current — progress at most once a second, a heartbeat every 5 s even when the restore is between files —
 * until it records the result or the error. Another process reading the row sees the same progress.
 */
import type { Db } from '../../../db/client';
import { EngineError } from '../errors';
import type { RestoreJobProgress } from '../../../db/schema';
import type { RestoreProgress } from './restore';
import { finishRestoreJob, HEARTBEAT_MS, recordRestoreProgress, type RestoreJobRow, setRestoreTarget } from './restore-jobs';
import type { RestoreOptions, RestoreResult } from '../types';

export interface RestoreJobDeps {
  db: Db;
  now: () => Date;
  worker: string;
  /** The path to restore into, checked now (the console's path policy for console jobs); a throw fails the job. */
  checkTarget: (row: RestoreJobRow) => Promise<string>;
  restore: (opts: RestoreOptions & { onProgress: (p: RestoreProgress) => void }) => Promise<RestoreResult>;
  /** Also told every progress report (the CLI's progress bar). */
  onProgress?: (p: RestoreProgress) => void;
  log: (line: string) => void;
}

const PROGRESS_EVERY_MS = 1_000;

export async function runRestoreJob(deps: RestoreJobDeps, row: RestoreJobRow): Promise<RestoreResult> {
  const started = row.startedAt ?? deps.now();
  let latest: RestoreJobProgress | null = null;
  let lastWrite = 0;
  let writing: Promise<unknown> = Promise.resolve();
  const write = () => {
    lastWrite = Date.now();
    const p = latest;
    writing = writing
      .then(() => recordRestoreProgress(deps.db, row.id, deps.worker, p, deps.now()))
      .catch((err: unknown) => deps.log(`restore ${row.id}: could not record progress: ${(err as Error).message}`));
  };
  const beat = setInterval(write, HEARTBEAT_MS);
  beat.unref();
  const onProgress = (p: RestoreProgress) => {
    latest = { bytes_done: p.bytesDone, bytes_total: p.bytesTotal, files_done: p.filesDone, files_total: p.filesTotal };
    deps.onProgress?.(p);
    if (Date.now() - lastWrite >= PROGRESS_EVERY_MS) write();
  };
  try {
    const target = await deps.checkTarget(row);
    if (target !== row.target) await setRestoreTarget(deps.db, row.id, target);
    const result = await deps.restore({ ...row.options, target, onProgress });
    clearInterval(beat);
    await writing;
    const done = latest ?? { bytes_done: result.bytes_restored, bytes_total: result.bytes_restored, files_done: result.files_restored, files_total: result.files_restored };
    await finishRestoreJob(deps.db, row.id, deps.worker, { result, progress: done }, deps.now(), started);
    return result;
  } catch (err) {
    clearInterval(beat);
    await writing;
    await finishRestoreJob(deps.db, row.id, deps.worker, { error: row.via === 'console' ? consoleWording(err, row.actorRole) : (err as Error).message, progress: latest }, deps.now(), started).catch((e: unknown) =>
      deps.log(`restore ${row.id}: could not record its failure: ${(e as Error).message}`),
    );
    throw err;
  } finally {
    clearInterval(beat);
  }
}

/** The console's words for a refusal whose message names a CLI command or flag (--overwrite, --allow-partial). */
export function consoleWording(err: unknown, role: string | null): string {
  if (!(err instanceof EngineError)) return (err as Error).message;
  if (typeof err.details.without_hint === 'string' && typeof err.details.console_hint === 'string') return `${err.details.without_hint} ${err.details.console_hint}`;
  if (err.details.needs_overwrite !== true) return err.message;
  const way = role === 'admin' ? 'Choose an empty or new directory, or tick "Overwrite existing files" to replace what is there.' : 'Choose an empty or new directory; only admins may overwrite existing files.';
  return `${String(err.details.without_hint)} ${way}`;
}
