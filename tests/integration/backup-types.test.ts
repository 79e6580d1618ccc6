import { appendFile, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { treeDiff } from '../support/compare';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree, pastRacyWindow } from '../support/tree';

describe.each(CATALOG_MODES)('backup types (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let src: string;

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 77, smallFiles: 3000, bigFiles: [3 * 1024 * 1024], unicode: true, empties: true, symlinks: true });
    await pastRacyWindow();
  }, 300_000);
  afterAll(async () => t?.cleanup());

  it('incremental: an unchanged tree reuses every file; changes are picked up; each backup restores on its own', async () => {
    const full = await engine.createBackup({ paths: [src], backupType: 'full' });
    const inc1 = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    expect(inc1.metadata).toMatchObject({ base_backup_id: full.backup_id, files_reused: full.file_count });
    expect(inc1.new_bytes).toBeLessThan(full.original_size * 0.01);
    expect(inc1.original_size).toBe(full.original_size);
    // Its manifest is its base's line for line (each reused file with its base's extents, content hash and
    // fields in one order: manifestLine), so it deduplicates whole: an unchanged incremental stores no shard.
    expect(full.new_shard_count).toBeGreaterThan(0);
    expect(inc1.new_shard_count).toBe(0);

    await writeFile(path.join(src, 'd0', 'f0.dat'), 'changed content');
    await appendFile(path.join(src, 'big-0.bin'), 'tail');
    await writeFile(path.join(src, 'brand-new.txt'), 'new file');
    await rm(path.join(src, 'd1', 'f600.dat'));
    const inc2 = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    expect(inc2.metadata).toMatchObject({ base_backup_id: inc1.backup_id, files_reused: full.file_count - 3 });

    const target = path.join(t.dir, 'r-inc2');
    await engine.restoreBackup(inc2.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
    // Deleting the bases does not break the incremental: every backup is self-contained.
    await engine.deleteBackup(full.backup_id);
    await engine.deleteBackup(inc1.backup_id);
    expect((await engine.verifyBackup(inc2.backup_id, { readData: true })).status).toBe('healthy');
    const again = path.join(t.dir, 'r-inc2-again');
    await engine.restoreBackup(inc2.backup_id, { target: again });
    expect(await treeDiff(src, again)).toEqual([]);
  });

  it('differential: compares against the last full backup', async () => {
    await pastRacyWindow(); // the changes of the test before
    const full = await engine.createBackup({ paths: [src], backupType: 'full' });
    await writeFile(path.join(src, 'd2', 'f1000.dat'), 'diff 1');
    const inc = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    await writeFile(path.join(src, 'd2', 'f1001.dat'), 'diff 2');
    const diff = await engine.createBackup({ paths: [src], backupType: 'differential' });
    expect(inc.metadata.base_backup_id).toBe(full.backup_id);
    expect(diff.metadata.base_backup_id).toBe(full.backup_id);
    expect(diff.metadata.files_reused).toBe(full.file_count - 2);
    const target = path.join(t.dir, 'r-diff');
    await engine.restoreBackup(diff.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
  });

  it('a touched file (same content, new mtime) is re-read', async () => {
    await pastRacyWindow();
    const base = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    const f = path.join(src, 'd0', 'f5.dat');
    await utimes(f, new Date(), new Date(Date.now() - 3600_000));
    const next = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    expect(next.metadata.files_reused).toBe(base.file_count - 1);
    // Its bytes are found stored: no file data is new (the manifest is, from that file on: the extents of
    // every later file point one chunk further into the new chunk table).
    expect(next.dedup_ratio).toBe(1);
    expect(next.new_bytes).toBeLessThan(base.original_size * 0.03);
  });

  it('a file changed just before its base backup started is read again by the next incremental (racily clean)', async () => {
    await pastRacyWindow();
    // Changed within the racy window: a second change in the same timestamp tick, after the base read it, would
    // keep its size, mtime and ctime, so the base entry cannot be trusted.
    await writeFile(path.join(src, 'd0', 'f7.dat'), 'changed right before the backup');
    const base = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    const next = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    expect(next.metadata.files_reused).toBe(base.file_count - 1);
    // Once the base started well after the change, the file is trusted again.
    await pastRacyWindow();
    const later = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    const after = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    expect(later.metadata.base_backup_id).toBe(next.backup_id);
    expect(after.metadata.files_reused).toBe(later.file_count);
  });

  it('snapshot backups restore byte-identical and report nothing when nothing changes', async () => {
    const snap = await engine.createBackup({ paths: [src], backupType: 'snapshot' });
    expect(snap.metadata.changed_while_read).toBeUndefined();
    const target = path.join(t.dir, 'r-snap');
    await engine.restoreBackup(snap.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
  });
});
