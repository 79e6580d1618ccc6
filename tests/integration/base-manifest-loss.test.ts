/**
 * A base whose manifest breaks half-way through. The base's entries are read while the backup walks
 * (base-join.ts), so the damage is met mid-backup, not before it starts:
 * - an incremental on that base fails, names the shard, and is not listed as completed;
 * - a full backup that only compares with it (ransomware signals) completes, with every file and no change
 *   summary, and says why.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackupRow } from '../../server/engine/catalog/catalog';
import type { EngineContext } from '../../server/engine/context';
import { BackupEngine } from '../../server/engine/engine';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

const KiB = 1024;

describe.each(CATALOG_MODES.slice(-1))('a base manifest lost half-way (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  const logs: string[] = [];
  const src = () => path.join(t.dir, 'src');

  beforeAll(async () => {
    t = await makeEnv(mode, { shard_size: 256 * KiB });
    engine = await BackupEngine.open(t.config, { log: (m) => logs.push(m) });
    for (let d = 0; d < 80; d++) {
      await mkdir(path.join(src(), `directory-${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) await writeFile(path.join(src(), `directory-${d}`, `a-file-with-a-long-name-${f}.txt`), `file ${d}/${f}\n`.repeat(1 + (f % 5)));
    }
  });
  afterAll(async () => {
    await engine?.close().catch(() => undefined);
    await t?.cleanup();
  });

  it('fails the incremental on it, and lets a full backup complete without comparing', async () => {
    const base = await engine.createBackup({ paths: [src()] });
    const ctx = (engine as unknown as { ctx: EngineContext }).ctx;
    const { files } = (await getBackupRow(ctx.db, base.backup_id))!.manifestShards;
    expect(files.length).toBeGreaterThan(3);
    const lost = files[Math.floor(files.length / 2)]!;
    const map = await engine.getShardMap(base.backup_id);
    for (const r of map.find((s) => s.shard_id === lost)!.replicas) await rm(path.join(t.config.storage_root, r.location, 'data', lost.slice(0, 2), lost));

    const failed = await engine.createBackup({ paths: [src()], backupType: 'incremental' }).catch((e: Error) => e);
    expect((failed as Error).message).toContain(`The manifest of base backup ${base.backup_id} cannot be read`);
    expect((failed as Error).message).toContain(lost);
    expect((failed as Error).message).toContain(`Run plexichat-backup verify ${base.backup_id} (and repair), or make a full backup.`);
    const listed = await engine.listBackups({});
    expect(listed.filter((b) => b.status === 'completed').map((b) => b.backup_id)).toEqual([base.backup_id]);

    const full = await engine.createBackup({ paths: [src()] });
    expect(full.status).toBe('completed');
    expect(full.file_count).toBe(8000);
    expect(full.change_summary).toBeNull();
    expect(logs.some((l) => l.includes(`cannot compare with ${base.backup_id}`) && l.includes('no ransomware signals'))).toBe(true);
    // The next one compares with that full backup, whose manifest is whole: its summary is there again.
    const next = await engine.createBackup({ paths: [src()] });
    expect(next.change_summary).toMatchObject({ previous_backup_id: full.backup_id, previous_files: 8000, files: 8000, removed_files: 0, new_files: 0 });
  });
});
