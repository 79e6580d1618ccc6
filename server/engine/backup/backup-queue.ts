/**
 * The backup queue: when `max_concurrent_backups` backups are running, a new backup (console, CLI, upload,
 * schedule) is recorded as `pending` and waits instead of being refused. A free slot goes to the pending
 * backup with the highest `priority` (1–10, 10 first), then the oldest. The queue lives in the catalog, so
 * every process sharing it (consoles, workers, CLI runs) takes slots in the same order: each waiter checks
 * under one advisory lock whether fewer backups are ahead of it than slots are free, and keeps its row's
 * heartbeat fresh while it waits; a waiter whose process died stops counting after STALE_MS and is reaped
 * as failed (housekeeping.ts).
 */
import { sql } from 'drizzle-orm';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import { reapInterrupted } from '../maintenance/reap-interrupted';

const QUEUE_LOCK = 727274002;
const POLL_MS = 500;
/** As housekeeping's reaper: a row whose heartbeat is older than this belongs to a dead process. */
export const STALE_MS = 20_000;

export interface SlotAttempt {
  started: boolean;
  /** 1 = the next to start; 0 once started. */
  position: number;
}

/** Backups ahead of `id` in the queue: fresh pending ones with a higher priority, or the same and older. */
function aheadOf(id: string, fresh: Date) {
  return sql`SELECT count(*)::int AS n FROM backups b, backups me
    WHERE me.id = ${id} AND b.status = 'pending' AND b.id <> me.id AND b.heartbeat_at >= ${fresh.toISOString()}::timestamptz
      AND (b.priority > me.priority OR (b.priority = me.priority AND (b.created_at, b.id) < (me.created_at, me.id)))`;
}

/** One look at the queue: starts the backup (pending → running) when a slot is free for it. */
export async function tryTakeSlot(ctx: EngineContext, id: string): Promise<SlotAttempt> {
  return ctx.db.transaction(async (tx) => {
    await tx.execute(sql`SELECT pg_advisory_xact_lock(${QUEUE_LOCK})`);
    const now = ctx.now();
    const running = await tx.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM backups WHERE status = 'running'`);
    const ahead = await tx.execute<{ n: number }>(aheadOf(id, new Date(now.getTime() - STALE_MS)));
    const free = ctx.config.max_concurrent_backups - Number(running.rows[0]?.n ?? 0);
    const before = Number(ahead.rows[0]?.n ?? 0);
    if (before < free) {
      const r = await tx.execute(sql`UPDATE backups SET status = 'running', started_at = ${now.toISOString()}::timestamptz, heartbeat_at = ${now.toISOString()}::timestamptz
        WHERE id = ${id} AND status = 'pending' RETURNING id`);
      if (!r.rows.length) throw new EngineError('CONFLICT', `Backup ${id} left the queue while it waited (it was deleted or marked interrupted); run the backup again.`);
      return { started: true, position: 0 };
    }
    await tx.execute(sql`UPDATE backups SET heartbeat_at = ${now.toISOString()}::timestamptz WHERE id = ${id} AND status = 'pending'`);
    return { started: false, position: before - free + 1 };
  });
}

/** The position of a pending backup (1 = next), for a process that is not the one waiting; null once it is not pending. */
export async function queuePosition(ctx: EngineContext, id: string): Promise<number | null> {
  const now = ctx.now();
  const me = await ctx.db.execute<{ status: string }>(sql`SELECT status FROM backups WHERE id = ${id}`);
  if (me.rows[0]?.status !== 'pending') return null;
  const running = await ctx.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM backups WHERE status = 'running'`);
  const ahead = await ctx.db.execute<{ n: number }>(aheadOf(id, new Date(now.getTime() - STALE_MS)));
  const free = Math.max(0, ctx.config.max_concurrent_backups - Number(running.rows[0]?.n ?? 0));
  return Math.max(1, Number(ahead.rows[0]?.n ?? 0) - free + 1);
}

/**
 * Waits until the backup holds a slot; `onPosition` hears each change of place. Ends with an error when the
 * signal aborts (the row is then failed by the caller) or the row left the queue.
 */
export async function waitForSlot(ctx: EngineContext, id: string, onPosition: (position: number) => void, signal?: AbortSignal): Promise<void> {
  for (let round = 0; ; round++) {
    if (signal?.aborted) throw new EngineError('CONFLICT', `Backup ${id} was cancelled while it waited for a free slot.`);
    // A backup whose process died would hold its slot for good: reap such rows now and then.
    if (round % 20 === 19) await reapInterrupted(ctx).catch(() => 0);
    const r = await tryTakeSlot(ctx, id);
    onPosition(r.position);
    if (r.started) return;
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}
