/**
 * A scheduled run that could not start (its path is gone) counts as a failure in the statistics and the
 * dashboard's success rate, and the alert it raised is resolved when the schedule is removed; the failure stays
 * counted after the removal, and a run still queued then is cancelled, not failed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { eq } from 'drizzle-orm';
import { scheduleRuns } from '../../db/schema';
import { enqueueDue } from '../../server/jobs/queue';
import { createSchedule, removeSchedule } from '../../server/jobs/schedule-store';
import { ScheduleWorker } from '../../server/jobs/worker';
import { listAlerts } from '../../server/monitoring/alert-store';
import { alertsFor } from '../../server/monitoring/hooks';
import { dashboardSeries } from '../../server/trpc/lib/dashboard';
import { makeEnv, type TestEnv } from '../support/engine-env';

let t: TestEnv;
let engine: BackupEngine;

beforeAll(async () => {
  t = await makeEnv('embedded');
  engine = await t.open();
}, 120_000);
afterAll(async () => t?.cleanup());

describe('schedules that could not start', () => {
  it('count as failures in the success rate, and their alert resolves when the schedule is removed', async () => {
    const db = engine.catalog.db;
    const src = path.join(t.dir, 'src');
    await mkdir(src);
    await writeFile(path.join(src, 'a.txt'), 'a');
    const ok = await engine.createBackup({ paths: [src] });
    expect(ok.status).toBe('completed');

    const t0 = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60 * 60_000);
    await createSchedule(db, { name: 'gone', cron: '* * * * *', paths: [path.join(t.dir, 'no-such-dir')] }, t0);
    const [out] = await new ScheduleWorker(engine, { events: alertsFor(engine), now: () => new Date(t0.getTime() + 61_000) }).runOnce();
    expect(out).toMatchObject({ status: 'failed', backup_id: null });

    const s = await engine.getStatistics();
    expect(s.schedule_runs_not_started).toBe(1);
    expect(s.failed_backups).toBe(1);
    expect(s.success_rate).toBe(0.5);
    expect(s.performance_metrics.backup_error_rate).toBe(0.5);
    expect(s.schedule_runs_not_started_at).toHaveLength(1);
    const series = dashboardSeries(await engine.backupSeries(14), new Date(), 14, s.schedule_runs_not_started_at);
    expect(series.last7d).toMatchObject({ completed: 1, failed: 1, success_rate: 0.5 });
    expect(series.perDay.reduce((n, d) => n + d.failed, 0)).toBe(1);

    const open = () => listAlerts(db, { states: ['open'] });
    expect((await open()).map((a) => a.subjectKey)).toContain('backup_failed:schedule:gone');
    await removeSchedule(db, 'gone');
    expect((await open()).map((a) => a.subjectKey)).not.toContain('backup_failed:schedule:gone');
    const [closed] = (await listAlerts(db, { states: ['resolved'] })).filter((a) => a.subjectKey === 'backup_failed:schedule:gone');
    expect(closed?.details).toMatchObject({ resolution: 'schedule "gone" was removed' });

    // Removing the failing schedule does not rewrite history: its failure still counts.
    const after = await engine.getStatistics();
    expect(after.schedule_runs_not_started).toBe(1);
    expect(after.success_rate).toBe(0.5);
    expect(after.schedule_runs_not_started_at).toEqual(s.schedule_runs_not_started_at);
  }, 180_000);

  it('a run still queued when its schedule is removed is cancelled, not counted as a failure', async () => {
    const db = engine.catalog.db;
    const before = await engine.getStatistics();
    const t0 = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000);
    const s = await createSchedule(db, { name: 'short-lived', cron: '* * * * *', paths: [path.join(t.dir, 'src')] }, t0);
    await enqueueDue(db, new Date(t0.getTime() + 61_000), 60_000, () => undefined);
    const [queued] = await db.select().from(scheduleRuns).where(eq(scheduleRuns.scheduleId, s.id));
    expect(queued?.status).toBe('queued');
    await removeSchedule(db, 'short-lived');
    const [run] = await db.select().from(scheduleRuns).where(eq(scheduleRuns.id, queued!.id));
    expect(run).toMatchObject({ status: 'cancelled', scheduleId: null, error: 'schedule removed' });
    // No worker picks it up, and the statistics did not move.
    expect(await new ScheduleWorker(engine, { now: () => new Date(t0.getTime() + 62_000) }).runOnce()).toEqual([]);
    const after = await engine.getStatistics();
    expect(after.schedule_runs_not_started).toBe(before.schedule_runs_not_started);
    expect(after.success_rate).toBe(before.success_rate);
  }, 60_000);
});
