/**
 * Restores started from the console: queued in the catalog (restore_jobs) and claimed at once by this
 * process, which runs it in the background; if it cannot (another process got there first), whichever
 * console or worker claimed it runs it. The page polls the job's row, so any console instance shows its
 * progress, and a restart loses nothing (a job whose process died is marked interrupted).
 */
import type { RestoreJobOptions } from '../../../db/schema';
import type { RestoreJobView } from '../../engine/restore/restore-jobs';
import { watchRestore } from '../../monitoring/hooks';
import type { EngineApi } from './types';

export type { RestoreJobView } from '../../engine/restore/restore-jobs';

export async function startRestoreJob(
  engine: EngineApi,
  backupId: string,
  target: string,
  options: RestoreJobOptions,
  actor: { email: string; role: string },
  shares: string[] = [],
): Promise<RestoreJobView> {
  const job = { backupId, target, options, actor: actor.email, actorRole: actor.role, via: 'console' as const };
  // With MAXIMUM key holders' shares the job runs here or nowhere: the shares never leave this process.
  const mine = shares.length ? await engine.startRestoreHere(job, shares) : undefined;
  const queued = mine ? null : await engine.enqueueRestore(job);
  const running = mine ?? (await engine.claimRestores({ onlyId: queued!.restore_id }))[0];
  // Alerts on data problems (lost shards, storage down); the job's row already holds the outcome.
  if (running) void watchRestore(engine, backupId, () => running.done).catch(() => undefined);
  return running?.job ?? queued!;
}
