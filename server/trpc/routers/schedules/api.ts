/**
 * What the schedule procedures need. Tests provide their own `schedules` service; the live one works on
 * the running engine's catalog. "Run now" enqueues a run due now: the next worker tick (the console's
 * embedded worker, or any `plexichat-backup worker`) picks it up.
 */
import { EngineError } from '../../../engine/errors';
import type { BackupEngine } from '../../../engine/engine';
import { CronError, nextRuns } from '../../../jobs/cron';
import { type PathActor, PathPolicy } from '../../../engine/path-policy';
import { createSchedule, getSchedule, listSchedules, removeSchedule, type ScheduleInput, type ScheduleView, setPaused, toView, updateSchedule } from '../../../jobs/schedule-store';
import { scheduleRuns } from '../../../../db/schema';
import type { Services } from '../../services/types';

export interface SchedulesApi {
  list(): Promise<ScheduleView[]>;
  preview(cron: string, timezone: string, count: number): Promise<{ ok: true; runs: string[] } | { ok: false; error: string }>;
  /** The paths go through the path policy with the user's role; the user is recorded as the schedule's owner. */
  create(input: ScheduleInput, user: PathActor): Promise<ScheduleView>;
  /** Changed paths are checked with the user's role, who then becomes the owner; otherwise the owner stays. */
  update(name: string, input: ScheduleInput, user: PathActor): Promise<ScheduleView>;
  setPaused(name: string, paused: boolean, actor: string): Promise<ScheduleView>;
  remove(name: string, actor: string): Promise<void>;
  runNow(name: string, actor: string): Promise<{ name: string; run_id: number; queued_at: string }>;
}

export function previewCron(cron: string, timezone: string, count: number, now = new Date()) {
  try {
    return { ok: true as const, runs: nextRuns(cron, timezone, count, now).map((d) => d.toISOString()) };
  } catch (err) {
    if (err instanceof CronError) return { ok: false as const, error: err.message };
    throw err;
  }
}

/**
 * A schedule's paths must exist when it is saved, as New backup requires (same message): a typo would
 * otherwise fail every night. A drill's paths name the sources of earlier backups, which may be gone (that
 * is what a drill rehearses), so they are only checked against the policy. Every run checks again.
 */
const mustExist = (input: ScheduleInput) => input.backupType !== 'drill';

export function liveSchedulesApi(engine: BackupEngine): SchedulesApi {
  const db = engine.catalog.db;
  const audit = (actor: string, action: string, target: string, details: Record<string, unknown> = {}) => engine.audit({ actor, action: `schedule.${action}`, target, details });
  const policy = PathPolicy.forInstallation(engine, (e) => engine.audit(e));
  return {
    list: () => listSchedules(db, new Date()),
    preview: async (cron, timezone, count) => previewCron(cron, timezone, count),
    async create(input, user) {
      await policy.checkBackupSources(user, input.paths, { action: 'schedule.create', mustExist: mustExist(input), details: { schedule: input.name } });
      const row = await createSchedule(db, input, new Date(), { via: 'console', email: user.email, role: user.role });
      await audit(user.email, 'create', row.name, { cron: row.cron, timezone: row.timezone, paths: row.paths });
      return toView(row, null, new Date());
    },
    async update(name, input, user) {
      const current = await getSchedule(db, name);
      const pathsChanged = current.paths.length !== input.paths.length || current.paths.some((p, i) => p !== input.paths[i]);
      if (pathsChanged) await policy.checkBackupSources(user, input.paths, { action: 'schedule.update', mustExist: mustExist(input), details: { schedule: name } });
      const row = await updateSchedule(db, name, input, new Date(), { via: 'console', email: user.email, role: user.role });
      await audit(user.email, 'update', row.name, { cron: row.cron, timezone: row.timezone, ...(pathsChanged ? { paths: row.paths } : {}) });
      return toView(row, null, new Date());
    },
    async setPaused(name, paused, actor) {
      const row = await setPaused(db, name, paused, new Date());
      await audit(actor, paused ? 'pause' : 'resume', row.name);
      return toView(row, null, new Date());
    },
    async remove(name, actor) {
      await removeSchedule(db, name);
      await audit(actor, 'remove', name);
    },
    async runNow(name, actor) {
      const s = await getSchedule(db, name);
      const now = new Date();
      const [run] = await db.insert(scheduleRuns).values({ scheduleId: s.id, drill: s.backupType === 'drill', dueAt: now, manual: true }).onConflictDoNothing().returning();
      if (!run) throw new EngineError('CONFLICT', `A run of ${name} was just queued; wait a moment.`);
      await audit(actor, 'run', name, { run_id: run.id });
      return { name, run_id: run.id, queued_at: now.toISOString() };
    },
  };
}

function isEngine(e: unknown): e is BackupEngine {
  return typeof e === 'object' && e !== null && 'catalog' in e && 'config' in e;
}

export async function schedulesFor(services: Services & { schedules?: () => Promise<SchedulesApi> }): Promise<SchedulesApi> {
  if (services.schedules) return services.schedules();
  const engine = await services.engine();
  if (!isEngine(engine)) throw new EngineError('UNAVAILABLE', 'Schedules are not available in this server.');
  return liveSchedulesApi(engine);
}
