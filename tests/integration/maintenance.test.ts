/**
 * The daily maintenance: expired backups are removed once per interval across workers, the rest kept.
 */
import { eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backups } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import { lastMaintenance, MaintenanceJob } from '../../server/jobs/maintenance';
import { CATALOG_STATISTICS } from '../../server/jobs/run-worker';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

describe.each(CATALOG_MODES)('daily maintenance (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
  });
  afterAll(async () => t?.cleanup());

  it('removes expired backups once per interval, whichever of two workers ticks first', async () => {
    const expired = await engine.createBackup({ payload: 'old data '.repeat(1000) });
    const kept = await engine.createBackup({ payload: 'recent data '.repeat(1000) });
    await engine.catalog.db.update(backups).set({ expiresAt: new Date(Date.now() - 86_400_000) }).where(eq(backups.id, expired.backup_id));

    const t0 = Date.now();
    const a = new MaintenanceJob(engine, 'worker-a');
    const b = new MaintenanceJob(engine, 'worker-b');
    const [ra, rb] = await Promise.all([a.tick(), b.tick()]);
    const ran = [ra, rb].filter((r) => r !== null);
    expect(ran).toHaveLength(1);
    expect(ran[0]).toMatchObject({ removed: 1, error: null });
    expect(await engine.getBackup(expired.backup_id).catch(() => null)).toBeNull();
    expect((await engine.getBackup(kept.backup_id))?.status).toBe('completed');
    expect(await lastMaintenance(engine)).toMatchObject({ removed: 1, error: null, worker: ran[0]!.worker });

    // Not again within the interval; again once it has passed (24 h by default).
    expect(await b.tick()).toBeNull();
    const later = new MaintenanceJob(engine, 'worker-b', { now: () => new Date(t0 + 25 * 3_600_000) });
    expect(await later.tick()).toMatchObject({ removed: 0, worker: 'worker-b' });
    expect(await new MaintenanceJob(engine, 'worker-a', { now: () => new Date(t0 + 26 * 3_600_000) }).tick()).toBeNull();
    expect((await engine.verifyBackup(kept.backup_id, { readData: true })).status).toBe('healthy');
  });

  it('gives the embedded catalog planner statistics (PostgreSQL has autovacuum)', async () => {
    const stats = async () => Number((await engine.catalog.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM pg_stats WHERE tablename = 'backups'`)).rows[0]!.n);
    if (mode === 'postgres') {
      expect(await CATALOG_STATISTICS.run(engine)).toMatch(/^skipped/);
      return;
    }
    expect(await stats()).toBe(0);
    const job = new MaintenanceJob(engine, 'worker-s', { now: () => new Date(Date.now() + 100 * 3_600_000), extras: [CATALOG_STATISTICS] });
    expect(await job.tick()).toMatchObject({ error: null, steps: [{ name: 'catalog statistics', summary: expect.stringMatching(/^ANALYZE of the embedded catalog in \d+ ms$/) }] });
    expect(await stats()).toBeGreaterThan(0);
  });
});
