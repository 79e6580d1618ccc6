/**
 * How many backups each location holds (catalog/backups-at.ts), kept between pages. A count that took long
 * once is refreshed behind the page, but the page waits for the new count a moment first: right after a
 * backup completed, the storage page must not say "0 backups" because the count before it was slow.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backupsAtLocations } from '../../server/engine/catalog/backups-at';
import type { BackupEngine } from '../../server/engine/engine';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { pastRacyWindow } from '../support/tree';

describe('backups per location', () => {
  let t: TestEnv;
  let engine: BackupEngine;
  let src: string;

  beforeAll(async () => {
    t = await makeEnv('embedded');
    engine = await t.open();
    src = path.join(t.dir, 'src');
    await mkdir(src);
    await writeFile(path.join(src, 'a.txt'), 'one');
    await pastRacyWindow();
  }, 120_000);
  afterAll(async () => t?.cleanup());

  it('gives the new count after a backup even when the last count was slow', async () => {
    const db = engine.catalog.db;
    const slow = { slowMs: -1 }; // every count counts as slow
    expect([...(await backupsAtLocations(db, slow)).values()]).toEqual([]);
    await engine.createBackup({ paths: [src] });
    const after = await backupsAtLocations(db, { ...slow, waitMs: 10_000 });
    const locations = engine.config.storage_locations.length;
    expect([...after.values()]).toEqual(Array(Math.min(locations, engine.config.replication_factor)).fill(1));
    // Again: each change of the catalog is counted anew.
    await engine.createBackup({ paths: [src] });
    expect([...(await backupsAtLocations(db, { ...slow, waitMs: 10_000 })).values()]).toEqual([...after.values()].map(() => 2));
  });
});
