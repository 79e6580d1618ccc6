/**
 * The backup queue: with max_concurrent_backups = 1 and one backup running, later requests are queued (not
 * refused), shown as "queued (position N)", and a free slot goes to the highest priority first, then the oldest.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { Rng } from '../support/tree';

const MiB = 1024 * 1024;

describe.each(CATALOG_MODES)('backup queue (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let big: string;

  beforeAll(async () => {
    t = await makeEnv(mode, { max_concurrent_backups: 1 });
    engine = await t.open();
    big = path.join(t.dir, 'big');
    const { mkdir } = await import('node:fs/promises');
    await mkdir(big);
    // Random data neither compresses nor deduplicates: the first backup keeps its slot for a few seconds.
    for (let i = 0; i < 8; i++) await writeFile(path.join(big, `r${i}.bin`), new Rng(100 + i).bytes(16 * MiB));
  }, 120_000);
  afterAll(async () => t?.cleanup());

  it('queues backups over the limit and starts the higher priority one first', async () => {
    const running = await engine.startBackup({ paths: [big], priority: 5, actor: 'test' });
    const low = await engine.startBackup({ payload: 'low priority', priority: 2, actor: 'test' });
    const high = await engine.startBackup({ payload: 'high priority', priority: 9, actor: 'test' });

    const first = await engine.getBackup(running.backup_id);
    expect(first?.status, 'the first backup must still run while the others queue (make its data larger if this fails)').toBe('running');
    // Positions settle at the waiters' next look at the queue (every 0.5 s): asked until they have, while
    // the first backup still runs (a fixed wait failed once the engine got fast enough to finish first).
    await expect
      .poll(async () => [(await engine.getBackupProgress(high.backup_id))?.queue_position, (await engine.getBackupProgress(low.backup_id))?.queue_position], { timeout: 10_000, interval: 100 })
      .toEqual([1, 2]);
    expect((await engine.getBackup(running.backup_id))?.status, 'the first backup must still run (make its data larger if this fails)').toBe('running');
    expect(await engine.getBackupProgress(low.backup_id)).toMatchObject({ status: 'pending', phase: 'queued', queue_position: 2 });
    expect(await engine.getBackupProgress(high.backup_id)).toMatchObject({ status: 'pending', phase: 'queued', queue_position: 1 });
    expect((await engine.getBackup(low.backup_id))?.status).toBe('pending');

    const [mRun, mLow, mHigh] = await Promise.all([running.done, low.done, high.done]);
    for (const m of [mRun, mLow, mHigh]) expect(m.status).toBe('completed');
    // The high-priority backup ran second: it started when the first finished, and before the low one.
    expect(Date.parse(mHigh.started_at!)).toBeGreaterThanOrEqual(Date.parse(mRun.completed_at!) - 5);
    expect(Date.parse(mHigh.started_at!)).toBeLessThan(Date.parse(mLow.started_at!));
    expect(Date.parse(mLow.started_at!)).toBeGreaterThanOrEqual(Date.parse(mHigh.completed_at!) - 5);
    expect(mHigh.priority).toBe(9);
    expect(mLow.priority).toBe(2);
  }, 300_000);

  it('reads the position of a pending backup from the catalog in another process', async () => {
    const other = await t.open();
    // New random data: the first test's is stored already, and a backup that deduplicates all of it ends too soon.
    const fresh = path.join(t.dir, 'big-2');
    await mkdir(fresh);
    for (let i = 0; i < 8; i++) await writeFile(path.join(fresh, `r${i}.bin`), new Rng(200 + i).bytes(16 * MiB));
    const a = await engine.startBackup({ paths: [fresh], actor: 'test' });
    const b = await engine.startBackup({ payload: 'waits', actor: 'test' });
    await new Promise((r) => setTimeout(r, 700));
    // `other` has no live tracker for b: the position comes from the queue in the catalog.
    expect(await other.getBackupProgress(b.backup_id)).toMatchObject({ status: 'pending', phase: 'queued', queue_position: 1 });
    await Promise.all([a.done, b.done]);
    expect(await other.getBackupProgress(b.backup_id)).toMatchObject({ status: 'completed', queue_position: null });
  }, 300_000);
});
