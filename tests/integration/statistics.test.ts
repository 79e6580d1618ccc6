/**
 * Statistics under the spec's names (get_backup_statistics): the engine, tRPC `stats.get`, CLI `stats` and
 * `/api/metrics` carry total_backups_created, successful_backups, failed_backups, average_backup_time,
 * total_data_backed_up, storage_efficiency, active_backups, performance_metrics.backup_throughput_mbps,
 * average_compression_ratio, storage_usage_percentage, and the restore time and error rate of the restore
 * jobs on record — from a real catalog with real backups and restores.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectMetrics } from '../../app/api/metrics/collect';
import { backups } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import type { BackupStatistics } from '../../server/engine/types';
import { createCallerFactory } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import type { Services } from '../../server/trpc/services/types';
import { runCli } from '../support/cli';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

const mode = CATALOG_MODES[CATALOG_MODES.length - 1]!;
let t: TestEnv;
let engine: BackupEngine;
let original = 0;

const unused = async (): Promise<never> => {
  throw new Error('not used');
};

beforeAll(async () => {
  // A capacity on the one location, so storage_usage_percentage has something to measure.
  t = await makeEnv(mode);
  const store = (name: string) => ({ name, type: 'local', path: path.join(t.dir, name), max_size_gb: 1 });
  await writeFile(path.join(t.dir, 'config.json'), JSON.stringify({ storage_locations: [store('primary'), store('secondary')] }));
  engine = await t.open();
  const src = path.join(t.dir, 'src');
  await mkdir(src, { recursive: true });
  await writeFile(path.join(src, 'random.bin'), randomBytes(2 * 1024 * 1024));
  await writeFile(path.join(src, 'text.txt'), 'compressible line\n'.repeat(100_000));
  original = 2 * 1024 * 1024 + 'compressible line\n'.length * 100_000;
  const first = await engine.createBackup({ paths: [src] });
  await engine.createBackup({ paths: [src] }); // all deduplicated
  // One failed backup, as the reaper leaves one whose process died.
  await engine.catalog.db.insert(backups).values({ id: 'backup_failed_1', status: 'failed', backupType: 'full', securityLevel: 'standard', retentionDays: 30, error: 'interrupted' });
  // One restore that completes and one that fails (its target is not empty), both run as restore jobs.
  await engine.runRecordedRestore({ backupId: first.backup_id, target: path.join(t.dir, 'r-ok'), options: {}, actor: 'cli:test', actorRole: null, via: 'cli' });
  const occupied = path.join(t.dir, 'r-occupied');
  await mkdir(occupied);
  await writeFile(path.join(occupied, 'x'), 'x');
  await expect(engine.runRecordedRestore({ backupId: first.backup_id, target: occupied, options: {}, actor: 'cli:test', actorRole: null, via: 'cli' })).rejects.toThrow(/not empty/);
}, 300_000);
afterAll(async () => t?.cleanup());

function expectSpecFields(s: BackupStatistics) {
  expect(s.statistics).toMatchObject({
    total_backups_created: 3,
    successful_backups: 2,
    failed_backups: 1,
    active_backups: 0,
    total_data_backed_up: 2 * original,
    total_restores: 2,
    successful_restores: 1,
    failed_restores: 1,
    restore_error_rate: 0.5,
  });
  expect(s.statistics.average_backup_time).toBeGreaterThan(0);
  expect(s.statistics.average_compression_ratio).toBeGreaterThan(1); // the text file compresses
  // Two backups of the same data stored once, compressed: more than 2 bytes protected per byte stored.
  expect(s.statistics.storage_efficiency).toBeGreaterThan(2);
  expect(s.statistics.average_restore_time).toBeGreaterThan(0);
  expect(s.performance_metrics.backup_throughput_mbps).toBeGreaterThan(0);
  expect(s.performance_metrics).toMatchObject({ restore_error_rate: 0.5, average_restore_time: s.statistics.average_restore_time });
  expect(s.storage_usage_percentage).toBeGreaterThan(0);
  expect(s.storage_usage_percentage).toBeLessThan(1);
  // Flat too, as the spec's health check reads them.
  expect(s).toMatchObject({ total_backups_created: 3, successful_backups: 2, failed_backups: 1 });
  // The console's older names stay.
  expect(s).toMatchObject({ total_backups: 3, completed_backups: 2, running_backups: 0, total_original_bytes: 2 * original });
}

describe(`statistics under the spec's names (${mode})`, () => {
  it('engine and tRPC stats.get', async () => {
    expectSpecFields(await engine.getStatistics());
    const services: Services = { engine: async () => engine, users: unused, audit: unused };
    const caller = createCallerFactory(appRouter)({ user: { id: 'v', email: 'v@x.io', name: null, role: 'viewer' }, services });
    expectSpecFields((await caller.stats.get()).statistics);
  });

  it('CLI stats (JSON and text)', async () => {
    const json = await runCli(['stats', '--json'], t.env);
    expect(json.code, json.stderr).toBe(0);
    expectSpecFields(json.json as BackupStatistics);
    const text = await runCli(['stats'], t.env);
    expect(text.stdout).toMatch(/^total_backups_created\s+3$/m);
    expect(text.stdout).toMatch(/^ {2}backup_throughput_mbps\s+\d/m);
    expect(text.stdout).not.toContain('[object Object]');
  });

  it('/api/metrics gauges', async () => {
    (globalThis as { __plexichatEngine?: Promise<BackupEngine> }).__plexichatEngine = Promise.resolve(engine);
    const { body } = await collectMetrics();
    expect(body).toMatch(/^plexichat_total_backups_created 3$/m);
    expect(body).toMatch(/^plexichat_successful_backups 2$/m);
    expect(body).toMatch(/^plexichat_failed_backups 1$/m);
    expect(body).toMatch(/^plexichat_active_backups 0$/m);
    expect(body).toMatch(new RegExp(`^plexichat_total_data_backed_up_bytes ${2 * original}$`, 'm'));
    expect(body).toMatch(/^plexichat_storage_efficiency \d/m);
    expect(body).toMatch(/^plexichat_average_backup_time_seconds \d/m);
    expect(body).toMatch(/^plexichat_average_compression_ratio \d/m);
    expect(body).toMatch(/^plexichat_backup_throughput_mbps \d/m);
    expect(body).toMatch(/^plexichat_storage_usage_percentage \d/m);
    expect(body).toMatch(/^plexichat_average_restore_time_seconds \d/m);
    expect(body).toMatch(/^plexichat_restore_error_rate 0.5$/m);
  });
});
