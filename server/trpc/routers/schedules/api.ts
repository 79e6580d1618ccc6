/**
 * What the schedule procedures need. Tests provide their own `schedules` service; the live one works on
 * the running engine's catalog. "Run now" enqueues a run due now: the next worker tick (the console's
 * embedded worker, or any `plexichat-backup worker`) picks it up.
 */
import { EngineError } from '../../../engine/errors';
import type { BackupEngine } from '../../../engine/engine';
import { CronError, nextRuns } from '../../../jobs/cron';
import { createSchedule, getSchedule, listSchedules, removeSchedule, type ScheduleInput, type ScheduleView, setPaused, toView, updateSchedule } from '../../../jobs/schedule-store';
import { scheduleRuns } from '../../../../db/schema';
import type { Services } from '../../services/types';

export interface SchedulesApi {
  list(): Promise<ScheduleView[]>;
  preview(cron: string, timezone: string, count: number): Promise<{ ok: true; runs: string[] } | { ok: false; error: string }>;
  create(input: ScheduleInput, actor: string): Promise<ScheduleView>;
  update(name: string, input: ScheduleInput, actor: string): Promise<ScheduleView>;
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

export function liveSchedulesApi(engine: BackupEngine): SchedulesApi {
  const db = engine.catalog.db;
  const audit = (actor: string, action: string, target: string, details: Record<string, unknown> = {}) => engine.audit({ actor, action: `schedule.${action}`, target, details });
  return {
    list: () => listSchedules(db, new Date()),
    preview: async (cron, timezone, count) => previewCron(cron, timezone, count),
    async create(input, actor) {
      const row = await createSchedule(db, input, new Date());
      await audit(actor, 'create', row.name, { cron: row.cron, timezone: row.timezone });
      return toView(row, null, new Date());
    },
    async update(name, input, actor) {
      const row = await updateSchedule(db, name, input, new Date());
      await audit(actor, 'update', row.name, { cron: row.cron, timezone: row.timezone });
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
      const [run] = await db.insert(scheduleRuns).values({ scheduleId: s.id, dueAt: now, manual: true }).onConflictDoNothing().returning();
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
