/**
 * Restore jobs in the catalog (restore_jobs): queued by the console, claimed with SKIP LOCKED by whichever
 * console or worker gets there first, run with a heartbeat, and read by every process. A restore from the
 * CLI is recorded as already running in its own process. A job whose process died (pid gone on this host,
 * or no heartbeat for 20 s) is marked failed as interrupted by the next reader, like backups
 * (housekeeping.ts reapInterrupted).
 */
import { and, asc, desc, eq, inArray, sql, type SQL } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Db } from '../../../db/client';
import { type RestoreJobOptions, type RestoreJobProgress, restoreJobs } from '../../../db/schema';
import { pidAlive } from '../../../db/pid-alive';
import { STALE_AFTER_MS } from '../maintenance/reap-interrupted';
import type { ListSort, RestoreResult } from '../types';

export type RestoreJobRow = typeof restoreJobs.$inferSelect;
export type RestoreJobStatus = 'queued' | 'running' | 'completed' | 'failed';

/** A restore job as the console and the CLI show it. */
export interface RestoreJobView {
  restore_id: string;
  backup_id: string;
  status: RestoreJobStatus;
  actor: string;
  via: string;
  target: string;
  options: RestoreJobOptions;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  /** The process running it (host:pid:nonce), while queued null. */
  claimed_by: string | null;
  progress: RestoreJobProgress & { percent: number; throughput_mbps: number; eta_seconds: number | null };
  result: RestoreResult | null;
  error: string | null;
}

export interface NewRestoreJob {
  backupId: string;
  target: string;
  options: RestoreJobOptions;
  actor: string;
  /** The console user's role: the path policy is checked again for it when the job starts. Null for the CLI. */
  actorRole: string | null;
  via: 'console' | 'cli';
}

export const HEARTBEAT_MS = 5_000;

/** Partial restores list every restored file; the row keeps the counts and the first of them. */
const LIST_CAP = 1_000;

export const INTERRUPTED = 'interrupted: the process running this restore stopped before it finished; run it again.';

export function newRestoreId(now: Date): string {
  return `restore_${now.getTime()}_${randomBytes(3).toString('hex')}`;
}

export function processId(): string {
  return `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
}

/** Queues a restore for any console or worker to claim. */
export async function enqueueRestoreJob(db: Db, job: NewRestoreJob, now: Date): Promise<RestoreJobRow> {
  const [row] = await db
    .insert(restoreJobs)
    .values({ id: newRestoreId(now), backupId: job.backupId, status: 'queued', actor: job.actor, actorRole: job.actorRole, via: job.via, target: job.target, options: job.options, createdAt: now })
    .returning();
  return row!;
}

/** Records a restore this process runs at once (the CLI): already running, owned by `worker`. */
export async function insertRunningRestoreJob(db: Db, job: NewRestoreJob, worker: string, now: Date): Promise<RestoreJobRow> {
  const [row] = await db
    .insert(restoreJobs)
    .values({ ...ownerFields(worker, now), id: newRestoreId(now), backupId: job.backupId, status: 'running', actor: job.actor, actorRole: job.actorRole, via: job.via, target: job.target, options: job.options, createdAt: now })
    .returning();
  return row!;
}

function ownerFields(worker: string, now: Date) {
  return { claimedBy: worker, ownerPid: process.pid, ownerHost: hostname(), heartbeatAt: now, startedAt: now };
}

/** Claims up to `limit` queued restores (or just `onlyId`) for `worker`, oldest first; SKIP LOCKED, so each runs once. */
export async function claimRestoreJobs(db: Db, worker: string, limit: number, now: Date, onlyId?: string): Promise<RestoreJobRow[]> {
  if (limit <= 0) return [];
  return db.transaction(async (tx) => {
    const only = onlyId ? sql`AND id = ${onlyId}` : sql``;
    const picked = await tx.execute<{ id: string }>(sql`SELECT id FROM restore_jobs WHERE status = 'queued' ${only} ORDER BY created_at LIMIT ${limit} FOR UPDATE SKIP LOCKED`);
    const ids = picked.rows.map((r) => String(r.id));
    if (!ids.length) return [];
    return tx
      .update(restoreJobs)
      .set({ ...ownerFields(worker, now), status: 'running' })
      .where(and(eq(restoreJobs.status, 'queued'), inArray(restoreJobs.id, ids)))
      .returning();
  });
}

/** Progress and heartbeat of a running job; false when the job is no longer this worker's (reaped meanwhile). */
export async function recordRestoreProgress(db: Db, id: string, worker: string, progress: RestoreJobProgress | null, now: Date): Promise<boolean> {
  const done = await db
    .update(restoreJobs)
    .set(progress ? { progress, heartbeatAt: now } : { heartbeatAt: now })
    .where(and(eq(restoreJobs.id, id), eq(restoreJobs.status, 'running'), eq(restoreJobs.claimedBy, worker)))
    .returning({ id: restoreJobs.id });
  return done.length > 0;
}

/** The final state; only the owner's own running job is finished (a reaped one stays interrupted). */
export async function finishRestoreJob(db: Db, id: string, worker: string, outcome: { result: RestoreResult; progress: RestoreJobProgress } | { error: string; progress: RestoreJobProgress | null }, now: Date, started: Date): Promise<void> {
  const common = { finishedAt: now, durationMs: Math.max(0, now.getTime() - started.getTime()), ownerPid: null, heartbeatAt: now };
  const set =
    'result' in outcome
      ? {
          ...common,
          status: 'completed',
          target: outcome.result.target,
          progress: outcome.progress,
          result: capLists(outcome.result),
          filesRestored: outcome.result.files_restored,
          filesLost: outcome.result.lost?.length ?? 0,
          bytesRestored: outcome.result.bytes_restored,
          error: null,
        }
      : { ...common, status: 'failed', error: outcome.error, ...(outcome.progress ? { progress: outcome.progress } : {}) };
  await db
    .update(restoreJobs)
    .set(set)
    .where(and(eq(restoreJobs.id, id), eq(restoreJobs.status, 'running'), eq(restoreJobs.claimedBy, worker)));
}

/** The target the job really restores into (the path policy's real path), recorded when it starts. */
export async function setRestoreTarget(db: Db, id: string, target: string): Promise<void> {
  await db.update(restoreJobs).set({ target }).where(eq(restoreJobs.id, id));
}

function capLists(r: RestoreResult): Record<string, unknown> {
  const out: Record<string, unknown> = { ...r };
  if (r.restored && r.restored.length > LIST_CAP) Object.assign(out, { restored: r.restored.slice(0, LIST_CAP), restored_total: r.restored.length });
  if (r.lost && r.lost.length > LIST_CAP) Object.assign(out, { lost: r.lost.slice(0, LIST_CAP), lost_total: r.lost.length });
  return out;
}


/** Marks failed ("interrupted") every running restore whose process is gone. Returns how many. */
export async function reapRestoreJobs(db: Db, now: Date): Promise<number> {
  const cutoff = new Date(now.getTime() - STALE_AFTER_MS);
  const rows = await db
    .select({ id: restoreJobs.id, pid: restoreJobs.ownerPid, host: restoreJobs.ownerHost, heartbeatAt: restoreJobs.heartbeatAt, startedAt: restoreJobs.startedAt })
    .from(restoreJobs)
    .where(eq(restoreJobs.status, 'running'));
  let reaped = 0;
  for (const r of rows) {
    const sameHost = r.host === hostname();
    const dead = (sameHost && r.pid !== null && r.pid !== process.pid && !pidAlive(r.pid)) || (r.heartbeatAt !== null && r.heartbeatAt < cutoff);
    if (!dead) continue;
    const started = r.startedAt ?? now;
    const done = await db
      .update(restoreJobs)
      .set({ status: 'failed', error: `Restore ${INTERRUPTED}`, finishedAt: now, durationMs: Math.max(0, now.getTime() - started.getTime()), ownerPid: null })
      .where(and(eq(restoreJobs.id, r.id), eq(restoreJobs.status, 'running')))
      .returning({ id: restoreJobs.id });
    reaped += done.length;
  }
  return reaped;
}

export async function getRestoreJobRow(db: Db, id: string): Promise<RestoreJobRow | null> {
  const [row] = await db.select().from(restoreJobs).where(eq(restoreJobs.id, id));
  return row ?? null;
}

/** What the restores list may be ordered by (each maps to a column; ties by id). */
export const RESTORE_SORT_KEYS = ['requested', 'backup', 'status', 'who', 'duration'] as const;
export type RestoreSortKey = (typeof RESTORE_SORT_KEYS)[number];
const RESTORE_SORT_COLUMNS = { requested: restoreJobs.createdAt, backup: restoreJobs.backupId, status: restoreJobs.status, who: restoreJobs.actor, duration: restoreJobs.durationMs } satisfies Record<RestoreSortKey, unknown>;

export interface ListRestoreJobsFilter {
  /** Default: newest first. */
  sort?: ListSort<RestoreSortKey>;
  backupId?: string;
  status?: RestoreJobStatus;
  limit?: number;
  offset?: number;
}

export async function listRestoreJobRows(db: Db, f: ListRestoreJobsFilter = {}): Promise<{ rows: RestoreJobRow[]; total: number }> {
  const where: SQL[] = [];
  if (f.backupId) where.push(eq(restoreJobs.backupId, f.backupId));
  if (f.status) where.push(eq(restoreJobs.status, f.status));
  const cond = where.length ? and(...where) : undefined;
  const rows = await db
    .select()
    .from(restoreJobs)
    .where(cond)
    .orderBy(...restoreOrder(f.sort ?? { key: 'requested', dir: 'desc' }))
    .limit(f.limit ?? 50)
    .offset(f.offset ?? 0);
  const [n] = await db.select({ n: sql<number>`count(*)::int` }).from(restoreJobs).where(cond);
  return { rows, total: Number(n?.n ?? 0) };
}

/** The column, then the id the same way: a total order, so pages neither repeat nor skip a job. Unfinished jobs (no duration) last. */
function restoreOrder({ key, dir }: ListSort<RestoreSortKey>): SQL[] {
  const by = dir === 'asc' ? asc : desc;
  const col = RESTORE_SORT_COLUMNS[key];
  return key === 'duration' ? [dir === 'asc' ? sql`${col} ASC NULLS LAST` : sql`${col} DESC NULLS LAST`, by(restoreJobs.id)] : [by(col), by(restoreJobs.id)];
}

export function toRestoreJobView(r: RestoreJobRow, now: Date): RestoreJobView {
  const p = r.progress;
  const end = r.finishedAt ?? now;
  const seconds = r.startedAt ? Math.max((end.getTime() - r.startedAt.getTime()) / 1000, 0.001) : 0;
  const rate = seconds > 0 ? p.bytes_done / seconds : 0;
  const finished = r.status === 'completed' || r.status === 'failed';
  const percent = r.status === 'completed' ? 100 : p.bytes_total > 0 ? Math.min(100, (p.bytes_done / p.bytes_total) * 100) : 0;
  return {
    restore_id: r.id,
    backup_id: r.backupId,
    status: r.status as RestoreJobStatus,
    actor: r.actor,
    via: r.via,
    target: r.target,
    options: r.options,
    created_at: r.createdAt.toISOString(),
    started_at: r.startedAt?.toISOString() ?? null,
    finished_at: r.finishedAt?.toISOString() ?? null,
    claimed_by: r.claimedBy,
    progress: {
      ...p,
      percent,
      throughput_mbps: rate / 1_048_576,
      // Only a running job has an ETA; a finished or queued one has none.
      eta_seconds: !finished && r.status === 'running' && rate > 0 ? Math.max(0, (p.bytes_total - p.bytes_done) / rate) : null,
    },
    result: (r.result as unknown as RestoreResult | null) ?? null,
    error: r.error,
  };
}

/** Restore time and error rate from the finished jobs (statistics). */
export async function restoreJobStatistics(db: Db): Promise<{ total: number; completed: number; failed: number; running: number; averageSeconds: number | null }> {
  const r = await db.execute<Record<string, number | null>>(sql`
    SELECT count(*) AS total,
      count(*) FILTER (WHERE status = 'completed') AS completed,
      count(*) FILTER (WHERE status = 'failed') AS failed,
      count(*) FILTER (WHERE status IN ('queued', 'running')) AS running,
      avg(duration_ms) FILTER (WHERE status = 'completed') AS avg_ms
    FROM restore_jobs`);
  const row = r.rows[0] ?? {};
  const num = (v: unknown) => Number(v ?? 0);
  return { total: num(row.total), completed: num(row.completed), failed: num(row.failed), running: num(row.running), averageSeconds: row.avg_ms === null || row.avg_ms === undefined ? null : num(row.avg_ms) / 1000 };
}
