/**
 * Jobs whose process is gone: a backup or restore whose owner died is marked failed, so nothing lists it as
 * running for ever. Kept apart from housekeeping.ts so that reading the catalog (`list`) needs no storage code.
 */
import { and, eq, inArray, sql } from 'drizzle-orm';
import { hostname } from 'node:os';
import { pidAlive } from '../../../db/pid-alive';
import { backups } from '../../../db/schema';
import type { EngineContext } from '../context';

/** A job (backup or restore) whose heartbeat is older than this is taken for dead. */
export const STALE_AFTER_MS = 20_000;


/**
 * Marks failed every running (or queued, `pending`) backup whose process is gone (killed, crashed, machine restarted), and drops its
 * references. The shards it had recorded stay: a later backup may reuse them through dedup, and storage gc
 * deletes those still unreferenced after its grace period (gc-shards.ts).
 */
export async function reapInterrupted(ctx: Pick<EngineContext, 'db' | 'now'>): Promise<number> {
  const cutoff = new Date(ctx.now().getTime() - STALE_AFTER_MS);
  const rows = await ctx.db
    .select({ id: backups.id, status: backups.status, pid: backups.ownerPid, meta: backups.metadata, heartbeatAt: backups.heartbeatAt })
    .from(backups)
    .where(inArray(backups.status, ['running', 'pending']));
  let reaped = 0;
  for (const r of rows) {
    const sameHost = r.meta?.host === hostname();
    const dead = (sameHost && r.pid !== null && r.pid !== process.pid && !pidAlive(r.pid)) || (r.heartbeatAt !== null && r.heartbeatAt < cutoff);
    if (!dead) continue;
    const message =
      r.status === 'pending'
        ? `Backup ${r.id} was interrupted while it waited in the queue: the process that requested it (pid ${r.pid ?? '?'}) stopped. Nothing was backed up; run the backup again.`
        : `Backup ${r.id} was interrupted: the process running it (pid ${r.pid ?? '?'}) stopped before it finished. Nothing from it is listed as completed; run the backup again.`;
    await ctx.db.transaction(async (tx) => {
      const done = await tx
        .update(backups)
        .set({ status: 'failed', error: message, completedAt: ctx.now(), ownerPid: null })
        .where(and(eq(backups.id, r.id), eq(backups.status, r.status)))
        .returning({ id: backups.id });
      if (done.length) await tx.execute(sql`DELETE FROM backup_shards WHERE backup_id = ${r.id}`);
    });
    reaped++;
  }
  return reaped;
}
