/**
 * Restores started from the console: queued in the catalog (restore_jobs) and claimed at once by this
 * process, which runs it in the background; if it cannot (another process got there first), whichever
 * console or worker claimed it runs it. The page polls the job's row, so any console instance shows its
 * progress, and a restart loses nothing (a job whose process died is marked interrupted).
 */
import type { RestoreJobOptions } from '../../../db/schema';
import type { RestoreJobView } from '../../engine/restore-jobs';
import { watchRestore } from '../../monitoring/hooks';
import type { EngineApi } from './types';

export type { RestoreJobView } from '../../engine/restore-jobs';

export async function startRestoreJob(engine: EngineApi, backupId: string, target: string, options: RestoreJobOptions, actor: { email: string; role: string }): Promise<RestoreJobView> {
  const queued = await engine.enqueueRestore({ backupId, target, options, actor: actor.email, actorRole: actor.role, via: 'console' });
  const [mine] = await engine.claimRestores({ onlyId: queued.restore_id });
  // Alerts on data problems (lost shards, storage down); the job's row already holds the outcome.
  if (mine) void watchRestore(engine, backupId, () => mine.done).catch(() => undefined);
  return mine?.job ?? queued;
}
