/**
 * Out of the box (a local location without max_size_gb) the installation knows how full the disk is: usage
 * % and free/total bytes in storage usage and in the location list, and a `storage_usage` alert when the
 * file system is fuller than the threshold (statfs of the real file system; the threshold is set just under
 * its real fill level so the test does not depend on the machine's disk).
 */
import { statfs } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { listAlerts } from '../../server/monitoring/alert-store';
import { BackupHealthMonitor } from '../../server/monitoring/health-monitor';
import { alertsFor } from '../../server/monitoring/hooks';
import { liveLocationsApi } from '../../server/trpc/routers/storage/locations-api';
import { makeEnv, type TestEnv } from '../support/engine-env';

let t: TestEnv;
let engine: BackupEngine;
let fill: number;

beforeAll(async () => {
  const probe = await makeEnv('embedded');
  const s = await statfs(probe.dir);
  await probe.cleanup();
  fill = ((s.blocks - s.bavail) / s.blocks) * 100;
  const warning = Math.max(0.01, Math.floor(fill) - 1);
  t = await makeEnv('embedded', { alerts: { thresholds: { storage_usage_warning: warning, storage_usage_critical: 100 } } });
  engine = await t.open();
}, 120_000);
afterAll(async () => t?.cleanup());

describe('free disk space without max_size_gb', () => {
  it('storage usage reports the file system: free, total and usage %', async () => {
    const [u] = await engine.getStorageUsage();
    expect(u).toMatchObject({ type: 'local', capacity_source: 'file_system' });
    const s = await statfs(path.join(t.dir));
    expect(u!.total_bytes).toBe(s.blocks * s.bsize);
    expect(u!.free_bytes).toBeGreaterThan(0);
    expect(Math.abs(u!.usage_percentage! - fill)).toBeLessThan(1);
  });

  it('the location list carries free_bytes and total_bytes', async () => {
    const list = await liveLocationsApi(engine).list();
    expect(list.length).toBeGreaterThan(0);
    for (const l of list) {
      expect(l.total_bytes).toBeGreaterThan(0);
      expect(l.free_bytes).toBeGreaterThan(0);
      expect(l.free_bytes!).toBeLessThanOrEqual(l.total_bytes!);
    }
  });

  it('a storage_usage alert is raised for a default location over the threshold', async () => {
    const cycle = await new BackupHealthMonitor(engine, alertsFor(engine)).runCycle();
    expect(cycle.errors).toEqual([]);
    const raised = (await listAlerts(engine.catalog.db, { states: ['open'] })).filter((a) => a.rule === 'storage_usage');
    const locations = await engine.getStorageUsage();
    expect(raised.map((a) => a.subjectKey).sort()).toEqual(locations.map((l) => `storage:${l.name}`).sort());
    for (const a of raised) expect(a.message).toMatch(/% full \(warning threshold/);
  });
});
