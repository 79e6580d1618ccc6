/** The health monitor's catalog queries: recent failure rate, missed schedules, the rolling-verify sample. */
import { and, eq, gte, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { backups, scheduleRuns, schedules } from '../../db/schema';
import { parseCron } from '../jobs/cron';

export async function failureRate(db: Db, since: Date): Promise<{ completed: number; failed: number; percent: number }> {
  const rows = await db
    .select({ status: backups.status, n: sql<number>`count(*)::int` })
    .from(backups)
    .where(gte(backups.createdAt, since))
    .groupBy(backups.status);
  const get = (s: string) => Number(rows.find((r) => r.status === s)?.n ?? 0);
  const completed = get('completed');
  const failed = get('failed');
  const total = completed + failed;
  return { completed, failed, percent: total ? (failed / total) * 100 : 0 };
}

/** Active schedules whose latest due time (older than `graceMs`) has no run. */
export async function missedSchedules(db: Db, now: Date, graceMs: number): Promise<{ name: string; due_at: Date }[]> {
  const active = await db.select().from(schedules).where(eq(schedules.paused, false));
  const ref = new Date(now.getTime() - graceMs);
  const out: { name: string; due_at: Date }[] = [];
  for (const s of active) {
    let due: Date | undefined;
    try {
      due = parseCron(s.cron, s.timezone).previousRuns(1, ref)[0];
    } catch {
      continue;
    }
    if (!due || due.getTime() <= s.updatedAt.getTime() || due.getTime() <= s.createdAt.getTime()) continue;
    const [run] = await db.select({ id: scheduleRuns.id }).from(scheduleRuns).where(and(eq(scheduleRuns.scheduleId, s.id), gte(scheduleRuns.dueAt, due))).limit(1);
    if (!run) out.push({ name: s.name, due_at: due });
  }
  return out;
}

/** Completed backups least recently verified (never-verified first): this cycle's rolling-verify sample. */
export async function verifySample(db: Db, size: number): Promise<{ ids: string[]; completed: number }> {
  const [c] = await db.select({ n: sql<number>`count(*)::int` }).from(backups).where(eq(backups.status, 'completed'));
  const completed = Number(c?.n ?? 0);
  if (!completed || size <= 0) return { ids: [], completed };
  const r = await db.execute<{ id: string }>(sql`
    SELECT b.id FROM backups b LEFT JOIN backup_verifications v ON v.backup_id = b.id
    WHERE b.status = 'completed' ORDER BY v.verified_at ASC NULLS FIRST, b.created_at ASC LIMIT ${size}`);
  return { ids: r.rows.map((x) => x.id), completed };
}
