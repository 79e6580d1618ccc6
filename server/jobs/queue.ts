/**
 * The run queue: schedule_runs rows. Enqueueing is idempotent (ON CONFLICT (schedule_id, due_at) DO NOTHING),
 * claiming uses SELECT … FOR UPDATE SKIP LOCKED, so any number of workers on one PostgreSQL run each due
 * run exactly once. Plain SQL that PostgreSQL 15 and PGlite both accept.
 */
import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { scheduleRuns, schedules } from '../../db/schema';
import { dueSince } from './cron';
import type { RunRow, ScheduleRow } from './schedule-store';

/** Enqueues the latest due run of every active schedule (earlier missed ones fold into it, marked late). */
export async function enqueueDue(db: Db, now: Date, lateAfterMs: number, log: (l: string) => void): Promise<number> {
  const active = await db.select().from(schedules).where(eq(schedules.paused, false));
  let added = 0;
  for (const s of active) {
    let due: ReturnType<typeof dueSince>;
    try {
      due = dueSince(s.cron, s.timezone, s.enqueuedThrough, now);
    } catch (err) {
      log(`schedule ${s.name}: ${(err as Error).message}`);
      continue;
    }
    if (!due) continue;
    const late = due.skipped > 0 || now.getTime() - due.latest.getTime() > lateAfterMs;
    // A run still waiting for a slot absorbs this one: a slow schedule never builds a backlog.
    const [waiting] = await db.select({ id: scheduleRuns.id }).from(scheduleRuns).where(and(eq(scheduleRuns.scheduleId, s.id), eq(scheduleRuns.status, 'queued'))).limit(1);
    const inserted = waiting
      ? []
      : await db
      .insert(scheduleRuns)
      .values({ scheduleId: s.id, drill: s.backupType === 'drill', dueAt: due.latest, late })
      .onConflictDoNothing({ target: [scheduleRuns.scheduleId, scheduleRuns.dueAt] })
      .returning({ id: scheduleRuns.id });
    added += inserted.length;
    await db
      .update(schedules)
      .set({ enqueuedThrough: sql`GREATEST(${schedules.enqueuedThrough}, ${due.latest.toISOString()}::timestamptz)` })
      .where(eq(schedules.id, s.id));
    if (inserted.length && late) log(`schedule ${s.name}: run due ${due.latest.toISOString()} is late${due.skipped ? ` (${due.skipped} earlier run(s) folded into it)` : ''}`);
  }
  return added;
}

/** Inserts a run due now (schedule run N); returns it, already claimed by `worker`. */
export async function enqueueManual(db: Db, s: ScheduleRow, now: Date, worker: string): Promise<RunRow> {
  const [row] = await db
    .insert(scheduleRuns)
    .values({ scheduleId: s.id, drill: s.backupType === 'drill', dueAt: now, manual: true, status: 'running', claimedBy: worker, startedAt: now })
    .onConflictDoNothing({ target: [scheduleRuns.scheduleId, scheduleRuns.dueAt] })
    .returning();
  if (!row) throw new Error(`A run of ${s.name} due at ${now.toISOString()} already exists; try again.`);
  return row;
}

/** Claims up to `limit` queued runs for this worker, oldest due first. */
export async function claimRuns(db: Db, worker: string, limit: number, now: Date): Promise<RunRow[]> {
  if (limit <= 0) return [];
  return db.transaction(async (tx) => {
    const picked = await tx.execute<{ id: number }>(
      sql`SELECT id FROM schedule_runs WHERE status = 'queued' ORDER BY due_at LIMIT ${limit} FOR UPDATE SKIP LOCKED`,
    );
    const ids = picked.rows.map((r) => Number(r.id));
    if (!ids.length) return [];
    return tx
      .update(scheduleRuns)
      .set({ status: 'running', claimedBy: worker, startedAt: now })
      .where(and(eq(scheduleRuns.status, 'queued'), sql`${scheduleRuns.id} IN (${sql.join(ids.map((i) => sql`${i}`), sql`, `)})`))
      .returning();
  });
}

export async function runningCount(db: Db): Promise<number> {
  const r = await db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM schedule_runs WHERE status = 'running'`);
  return Number(r.rows[0]?.n ?? 0);
}

export async function finishRun(db: Db, id: number, patch: Partial<Pick<RunRow, 'status' | 'backupId' | 'error' | 'finishedAt' | 'claimedBy' | 'startedAt'>>): Promise<void> {
  await db.update(scheduleRuns).set(patch).where(eq(scheduleRuns.id, id));
}

/**
 * Runs left "running" by a worker that died: settled from their backup's final status, or failed when
 * they never got a backup and are older than `staleMs`.
 */
export async function reapRuns(db: Db, now: Date, staleMs: number): Promise<void> {
  await db.execute(sql`
    UPDATE schedule_runs r SET status = b.status, finished_at = COALESCE(b.completed_at, ${now.toISOString()}::timestamptz), error = b.error
    FROM backups b WHERE r.status = 'running' AND r.backup_id = b.id AND b.status IN ('completed', 'failed')`);
  await db.execute(sql`
    UPDATE schedule_runs SET status = 'failed', finished_at = ${now.toISOString()}::timestamptz, error = 'the worker stopped before the backup started'
    WHERE status = 'running' AND backup_id IS NULL AND started_at < ${new Date(now.getTime() - staleMs).toISOString()}::timestamptz`);
}
