/**
 * The backup list collapses continuous backups to the newest of each source set; its total counts the same
 * rows (the page and the count are written differently for speed: engine.ts listConditions).
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import type { ListBackupsFilter } from '../../server/engine/types';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

describe.each(CATALOG_MODES)('collapsed continuous backups (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
    // id, type, status, sources, minutes ago. Set x: the newest is failed (it still hides the older ones);
    // set y: two at the same minute (neither is newer: both listed); set z: one.
    const rows: [string, string, string, string[], number][] = [
      ['x1', 'continuous', 'completed', ['/x'], 50],
      ['x2', 'continuous', 'completed', ['/x'], 40],
      ['x3', 'continuous', 'failed', ['/x'], 30],
      ['y1', 'continuous', 'completed', ['/y'], 45],
      ['y2', 'continuous', 'completed', ['/y'], 20],
      ['y3', 'continuous', 'completed', ['/y'], 20],
      ['z1', 'continuous', 'completed', ['/x', '/y'], 10],
      ['f1', 'full', 'completed', ['/x'], 35],
      ['f2', 'full', 'completed', ['/x'], 5],
      ['i1', 'incremental', 'failed', ['/y'], 25],
    ];
    for (const [id, type, status, sources, ago] of rows) {
      await engine.catalog.db.execute(sql`
        INSERT INTO backups (id, status, backup_type, security_level, retention_days, sources, created_at)
        VALUES (${id}, ${status}, ${type}, 'standard', 30, ${JSON.stringify(sources)}::jsonb, date_trunc('minute', now()) - ${ago} * interval '1 minute')`);
    }
  });
  afterAll(async () => t?.cleanup());

  const cases: [string, ListBackupsFilter, string[]][] = [
    ['every status', {}, ['f2', 'z1', 'y2', 'y3', 'i1', 'x3', 'f1']],
    ['completed', { status: 'completed' }, ['f2', 'z1', 'y2', 'y3', 'f1']],
    ['failed', { status: 'failed' }, ['i1', 'x3']],
    ['continuous only', { backupType: 'continuous' }, ['z1', 'y2', 'y3', 'x3']],
  ];
  it.each(cases)('%s: the page lists the newest of each source set, and the total counts those', async (_, filter, expected) => {
    const f = { ...filter, collapseContinuous: true };
    const page = (await engine.listBackups({ ...f, limit: 100 })).map((b) => b.backup_id);
    expect([...page].sort()).toEqual([...expected].sort());
    expect(await engine.countBackups(f)).toBe(expected.length);
  });
});
