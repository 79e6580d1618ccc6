/** Schedules in the catalog: create, list, pause/resume, remove, with validation of every field. */
import { and, desc, eq, inArray } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import * as z from 'zod';
import type { Db } from '../../db/client';
import { scheduleRuns, schedules, settings } from '../../db/schema';
import { SECURITY_LEVELS } from '../config';
import { EngineError, notFound } from '../engine/errors';
import { resolveAlert } from '../monitoring/alert-store';
import { CronError, nextRuns, parseCron } from './cron';

/** `drill`: a restore drill of the newest completed backup of the schedule's paths (server/engine/restore/drill.ts), not a backup. */
export const SCHEDULE_TYPES = ['full', 'incremental', 'differential', 'snapshot', 'continuous', 'drill'] as const;
/** Default wait after the last change before a continuous schedule backs up. */
export const DEFAULT_CONTINUOUS_DELAY_S = 60;

export const scheduleInput = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { error: 'name must be 1–63 letters, digits, "_", "." or "-"' }),
  cron: z.string().min(1),
  timezone: z.string().min(1).default('UTC'),
  paths: z.array(z.string().min(1)).min(1, { error: 'give at least one path' }),
  backupType: z.enum(SCHEDULE_TYPES).default('full'),
  securityLevel: z.enum(SECURITY_LEVELS).nullable().default(null),
  tags: z.array(z.string().min(1)).default([]),
  retentionDays: z.number().int().min(1).nullable().default(null),
  /** The priority of the backups it starts: 1–10, higher first when backups queue (max_concurrent_backups). */
  priority: z.number().int().min(1, { error: 'priority is 1–10' }).max(10, { error: 'priority is 1–10' }).default(5),
  /** Continuous schedules only: seconds after the last change before the backup starts. */
  delaySeconds: z.number().int().min(1).max(86_400).nullable().default(null),
});
export type ScheduleInput = z.input<typeof scheduleInput>;
export type ScheduleRow = typeof schedules.$inferSelect;
export type RunRow = typeof scheduleRuns.$inferSelect;

export interface ScheduleView {
  id: string;
  name: string;
  cron: string;
  timezone: string;
  paths: string[];
  backup_type: string;
  security_level: string | null;
  tags: string[];
  retention_days: number | null;
  priority: number;
  paused: boolean;
  /** Continuous schedules: the delay after changes, and the worker watching the paths (null when none does). */
  delay_seconds: number | null;
  watcher: { worker: string; seen_at: string } | null;
  next_run: string | null;
  last_run: { due_at: string; status: string; late: boolean; backup_id: string | null; finished_at: string | null; error: string | null } | null;
  created_at: string;
}

function validate(input: ScheduleInput) {
  const parsed = scheduleInput.safeParse(input);
  if (!parsed.success) throw new EngineError('INVALID', parsed.error.issues.map((i) => `${i.path.join('.') || 'schedule'}: ${i.message}`).join('; '));
  try {
    parseCron(parsed.data.cron, parsed.data.timezone);
  } catch (err) {
    if (err instanceof CronError) throw new EngineError('INVALID', err.message);
    throw err;
  }
  const v = parsed.data;
  if (v.backupType !== 'continuous') {
    if (v.delaySeconds !== null) throw new EngineError('INVALID', 'delaySeconds: only a continuous schedule has a delay; choose the type "continuous" or leave the delay out.');
    return v;
  }
  return { ...v, delaySeconds: v.delaySeconds ?? DEFAULT_CONTINUOUS_DELAY_S };
}

/**
 * Who chose a schedule's paths, so a run applies their rules (server/engine/path-policy.ts): a console or
 * API user (their role's rules), or the local shell (the CLI: not limited). Kept in a `settings` row per
 * schedule (`schedule_owner:<id>`), set when a schedule is created and whenever its paths change. A schedule
 * without one (made before owners were recorded) runs under admin rules.
 */
export type ScheduleOwner = { via: 'console'; email: string; role: 'admin' | 'operator' | 'viewer' } | { via: 'cli' };
export const LOCAL_OWNER: ScheduleOwner = { via: 'cli' };
const ownerKey = (scheduleId: string) => `schedule_owner:${scheduleId}`;

export async function getScheduleOwner(db: Db, scheduleId: string): Promise<ScheduleOwner | null> {
  const [row] = await db.select({ value: settings.value }).from(settings).where(eq(settings.key, ownerKey(scheduleId)));
  const v = row?.value as ScheduleOwner | undefined;
  if (v?.via === 'cli') return LOCAL_OWNER;
  if (v?.via === 'console' && typeof v.email === 'string' && ['admin', 'operator', 'viewer'].includes(v.role)) return { via: 'console', email: v.email, role: v.role };
  return null;
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

async function setOwner(db: Db | Tx, scheduleId: string, owner: ScheduleOwner, now: Date): Promise<void> {
  const value = { ...owner, at: now.toISOString() } as Record<string, unknown>;
  await db.insert(settings).values({ key: ownerKey(scheduleId), value, updatedAt: now }).onConflictDoUpdate({ target: settings.key, set: { value, updatedAt: now } });
}

const samePaths = (a: string[], b: string[]) => a.length === b.length && a.every((p, i) => p === b[i]);

/** `owner`: who chose the paths (default: the local shell, i.e. the CLI). */
export async function createSchedule(db: Db, input: ScheduleInput, now: Date, owner: ScheduleOwner = LOCAL_OWNER): Promise<ScheduleRow> {
  const v = validate(input);
  const [existing] = await db.select({ id: schedules.id }).from(schedules).where(eq(schedules.name, v.name));
  if (existing) throw new EngineError('CONFLICT', `A schedule named "${v.name}" already exists.`);
  return db.transaction(async (tx) => {
    const [row] = await tx
      .insert(schedules)
      .values({ id: `sched_${randomBytes(6).toString('hex')}`, ...v, enqueuedThrough: now, createdAt: now, updatedAt: now })
      .returning();
    await setOwner(tx, row!.id, owner, now);
    return row!;
  });
}

/** `owner` becomes the schedule's owner when the paths change (default: the local shell, i.e. the CLI). */
export async function updateSchedule(db: Db, name: string, input: ScheduleInput, now: Date, owner: ScheduleOwner = LOCAL_OWNER): Promise<ScheduleRow> {
  const current = await getSchedule(db, name);
  const v = validate(input);
  if (v.name !== current.name) {
    const [taken] = await db.select({ id: schedules.id }).from(schedules).where(eq(schedules.name, v.name));
    if (taken) throw new EngineError('CONFLICT', `A schedule named "${v.name}" already exists.`);
  }
  const cronChanged = v.cron !== current.cron || v.timezone !== current.timezone;
  return db.transaction(async (tx) => {
    const [row] = await tx
      .update(schedules)
      .set({ ...v, updatedAt: now, ...(cronChanged ? { enqueuedThrough: now } : {}) })
      .where(eq(schedules.id, current.id))
      .returning();
    if (!samePaths(current.paths, v.paths)) await setOwner(tx, current.id, owner, now);
    return row!;
  });
}

export async function getSchedule(db: Db, name: string): Promise<ScheduleRow> {
  const [row] = await db.select().from(schedules).where(eq(schedules.name, name));
  if (!row) throw notFound(`Schedule ${name}`);
  return row;
}

export async function setPaused(db: Db, name: string, paused: boolean, now: Date): Promise<ScheduleRow> {
  const current = await getSchedule(db, name);
  // Resuming does not replay the runs that fell due while paused.
  const [row] = await db
    .update(schedules)
    .set({ paused, updatedAt: now, ...(paused ? {} : { enqueuedThrough: now }) })
    .where(eq(schedules.id, current.id))
    .returning();
  return row!;
}

/**
 * Removes a schedule and its owner. Its queued runs are cancelled; its finished runs stay (schedule_id null), so
 * the statistics' failures are not rewritten by removing a failing schedule. Its open alerts (failed runs,
 * missed runs) are resolved: nothing can clear them any more.
 */
export async function removeSchedule(db: Db, name: string, now = new Date()): Promise<void> {
  const current = await getSchedule(db, name);
  await db.transaction(async (tx) => {
    await tx
      .update(scheduleRuns)
      .set({ status: 'cancelled', error: 'schedule removed', finishedAt: now })
      .where(and(eq(scheduleRuns.scheduleId, current.id), eq(scheduleRuns.status, 'queued')));
    await tx.delete(schedules).where(eq(schedules.id, current.id));
  });
  await db.delete(settings).where(eq(settings.key, ownerKey(current.id)));
  for (const key of scheduleAlertKeys(current.name)) await resolveAlert(db, key, now, `schedule "${current.name}" was removed`);
}

/** The subjects of the alerts a schedule raises (alert-service.ts, health-monitor.ts). */
export const scheduleAlertKeys = (name: string) => [`backup_failed:schedule:${name}`, `schedule_missed:${name}`];

export async function listRuns(db: Db, scheduleId: string, limit = 20): Promise<RunRow[]> {
  return db.select().from(scheduleRuns).where(eq(scheduleRuns.scheduleId, scheduleId)).orderBy(desc(scheduleRuns.dueAt)).limit(limit);
}

export async function listSchedules(db: Db, now: Date): Promise<ScheduleView[]> {
  const rows = await db.select().from(schedules).orderBy(schedules.name);
  const ids = rows.map((r) => r.id);
  const runs = ids.length ? await db.select().from(scheduleRuns).where(inArray(scheduleRuns.scheduleId, ids)).orderBy(desc(scheduleRuns.dueAt)) : [];
  const last = new Map<string, RunRow>();
  for (const r of runs) if (r.scheduleId && !last.has(r.scheduleId)) last.set(r.scheduleId, r);
  return rows.map((r) => toView(r, last.get(r.id) ?? null, now));
}

export function toView(r: ScheduleRow, run: RunRow | null, now: Date): ScheduleView {
  const next = r.paused ? null : (nextRuns(r.cron, r.timezone, 1, now)[0] ?? null);
  return {
    id: r.id,
    name: r.name,
    cron: r.cron,
    timezone: r.timezone,
    paths: r.paths,
    backup_type: r.backupType,
    security_level: r.securityLevel,
    tags: r.tags,
    retention_days: r.retentionDays,
    priority: r.priority,
    paused: r.paused,
    delay_seconds: r.delaySeconds,
    watcher: r.backupType === 'continuous' && !r.paused && r.watcherId && r.watcherSeenAt ? { worker: r.watcherId, seen_at: r.watcherSeenAt.toISOString() } : null,
    next_run: next ? next.toISOString() : null,
    last_run: run
      ? { due_at: run.dueAt.toISOString(), status: run.status, late: run.late, backup_id: run.backupId, finished_at: run.finishedAt?.toISOString() ?? null, error: run.error }
      : null,
    created_at: r.createdAt.toISOString(),
  };
}
