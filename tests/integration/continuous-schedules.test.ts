/**
 * Continuous schedules run by workers: one watcher per schedule across workers (a lease in the catalog),
 * one backup run per burst of changes, a dead worker's lease taken over, pause stops the watcher.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { ContinuousSchedules } from '../../server/jobs/continuous-schedules';
import { createSchedule, listSchedules, setPaused } from '../../server/jobs/schedule-store';
import { ScheduleWorker } from '../../server/jobs/worker';
import { treeDiff } from '../support/compare';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each(CATALOG_MODES)('continuous schedules (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let src: string;
  const runners: ContinuousSchedules[] = [];

  const completed = async () => (await engine.listBackups({ tags: ['live'], status: 'completed' })).sort((a, b) => a.created_at.localeCompare(b.created_at));
  async function waitForCount(n: number, timeoutMs = 30_000) {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until && (await completed()).length < n) await sleep(100);
    return completed();
  }
  const runner = (id: string, opts: ConstructorParameters<typeof ContinuousSchedules>[2] = {}) => {
    const r = new ContinuousSchedules(engine, new ScheduleWorker(engine, { workerId: id }), { leaseMs: 2_000, ...opts });
    runners.push(r);
    return r;
  };

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 31, smallFiles: 40 });
  });
  afterAll(async () => {
    for (const r of runners) await r.stop().catch(() => undefined);
    await t?.cleanup();
  });

  it('refuses a delay on a schedule that is not continuous, and defaults it to 60 s on one that is', async () => {
    await expect(createSchedule(engine.catalog.db, { name: 'x', cron: '0 3 * * *', paths: [src], delaySeconds: 5 }, new Date())).rejects.toThrow(/only a continuous schedule has a delay/);
    const row = await createSchedule(engine.catalog.db, { name: 'dflt', cron: '0 3 * * *', paths: [src], backupType: 'continuous' }, new Date());
    expect(row.delaySeconds).toBe(60);
    await setPaused(engine.catalog.db, 'dflt', true, new Date());
  });

  it('one worker of two watches; a burst of changes gives one backup, restorable byte for byte', async () => {
    await createSchedule(engine.catalog.db, { name: 'live', cron: '0 0 1 1 *', paths: [src], backupType: 'continuous', delaySeconds: 1 }, new Date());
    const a = runner('worker-a');
    const b = runner('worker-b');
    await a.tick();
    await b.tick();
    expect([a.watching, b.watching]).toEqual([['live'], []]);
    const view = (await listSchedules(engine.catalog.db, new Date())).find((s) => s.name === 'live');
    expect(view).toMatchObject({ backup_type: 'continuous', delay_seconds: 1, watcher: { worker: 'worker-a' } });

    // The watcher's first run catches up with what changed while nobody watched.
    expect(await waitForCount(1)).toHaveLength(1);
    for (let i = 0; i < 6; i++) {
      await writeFile(path.join(src, `burst-${i}.txt`), `change ${i}`);
      await sleep(50);
    }
    const after = await waitForCount(2);
    await sleep(2_500);
    expect(await completed()).toHaveLength(2);
    const last = after[1]!;
    expect(last).toMatchObject({ backup_type: 'continuous', tags: expect.arrayContaining(['live']) });
    expect(last.metadata).toMatchObject({ schedule: 'live' });
    const target = path.join(t.dir, 'restored');
    await engine.restoreBackup(last.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
  });

  it('a worker that stops renewing loses the watcher to another; pausing stops it', async () => {
    const [a, b] = runners as [ContinuousSchedules, ContinuousSchedules];
    // worker-a goes silent (no tick for longer than the lease): worker-c, ticking 3 s from now, takes over.
    const later = runner('worker-c', { now: () => new Date(Date.now() + 3_000) });
    await later.tick();
    expect(later.watching).toEqual(['live']);
    // worker-a comes back: its lease is gone, so it stops its watcher; worker-b does not get it either.
    await a.tick();
    await b.tick();
    expect([a.watching, b.watching]).toEqual([[], []]);

    await setPaused(engine.catalog.db, 'live', true, new Date());
    await later.tick();
    expect(later.watching).toEqual([]);
    await later.stop();
    const view = (await listSchedules(engine.catalog.db, new Date())).find((s) => s.name === 'live');
    expect(view?.watcher).toBeNull();
  });
});
