import { appendFile, open, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { treeDiff } from '../support/compare';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { Rng, makeTree } from '../support/tree';

const MiB = 1024 * 1024;

async function allFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

describe.each(CATALOG_MODES)('backup round trip (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let src: string;

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 7, smallFiles: 5000, smallMin: 0, smallMax: 3000, bigFiles: [25 * MiB], unicode: true, empties: true, symlinks: true });
  });
  afterAll(async () => t?.cleanup());

  it('restores a tree byte for byte, with modes, mtimes, empty dirs and symlinks; a re-backup stores almost nothing', async () => {
    const first = await engine.createBackup({ paths: [src], tags: ['t1'] });
    expect(first.status).toBe('completed');
    expect(first.file_count).toBeGreaterThan(5000);
    expect(first.original_size).toBeGreaterThan(25 * MiB);

    const target = path.join(t.dir, 'restore1');
    const r = await engine.restoreBackup(first.backup_id, { target });
    expect(r.bytes_restored).toBe(first.original_size);
    expect(await treeDiff(src, target)).toEqual([]);

    const second = await engine.createBackup({ paths: [src] });
    expect(second.new_bytes).toBeLessThan(first.original_size * 0.01);
    // Only its manifest is new (a new backup id and times): none of the file data, so nothing of the data is new.
    expect(second.dedup_ratio).toBe(1);
    const listed = await engine.listBackups({ tags: ['t1'] });
    expect(listed.map((b) => b.backup_id)).toEqual([first.backup_id]);
  });

  it('stores little after 10 bytes are inserted at the start of a 64 MiB file', async () => {
    const dir = path.join(t.dir, 'shift');
    const rng = new Rng(99);
    const big = path.join(dir, 'big.bin');
    await makeTree(dir, { seed: 3, smallFiles: 0 });
    await writeFile(big, rng.bytes(64 * MiB));
    const a = await engine.createBackup({ paths: [dir] });
    expect(a.new_bytes).toBeGreaterThan(60 * MiB);
    const data = await readFile(big);
    await writeFile(big, Buffer.concat([Buffer.from('0123456789'), data]));
    const b = await engine.createBackup({ paths: [dir] });
    expect(b.new_bytes).toBeLessThan(8 * MiB);
    const target = path.join(t.dir, 'restore-shift');
    await engine.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(dir, target)).toEqual([]);
  });

  it('leaves no plaintext of the source anywhere in storage', async () => {
    const dir = path.join(t.dir, 'secret');
    const marker = 'TOP-SECRET-PLEXICHAT-MARKER';
    await makeTree(dir, { seed: 5 });
    await writeFile(path.join(dir, `${marker}.txt`), `${marker} `.repeat(50_000));
    const rng = new Rng(1);
    await writeFile(path.join(dir, 'mixed.bin'), Buffer.concat([rng.bytes(100_000), Buffer.from(marker), rng.bytes(100_000)]));
    await engine.createBackup({ paths: [dir] });
    const needle = Buffer.from(marker);
    const nameNeedle = Buffer.from('TOP-SECRET');
    for (const f of await allFiles(t.config.storage_root)) {
      expect(f.includes('TOP-SECRET'), f).toBe(false);
      const content = await readFile(f);
      expect(content.includes(needle), f).toBe(false);
      expect(content.includes(nameNeedle), f).toBe(false);
    }
  });

  it('packs 20,000 small files into a few hundred storage objects', async () => {
    const dir = path.join(t.dir, 'many');
    await makeTree(dir, { seed: 11, smallFiles: 20_000, smallMin: 1024, smallMax: 4096 });
    const before = (await allFiles(t.config.storage_root)).length;
    const b = await engine.createBackup({ paths: [dir] });
    const after = (await allFiles(t.config.storage_root)).length;
    const perLocation = (after - before) / t.config.replication_factor;
    expect(b.file_count).toBe(20_000);
    expect(perLocation).toBeLessThan(300);
    const target = path.join(t.dir, 'restore-many');
    await engine.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(dir, target)).toEqual([]);
  });

  it('restores a subset by pattern and backs up API payloads', async () => {
    const target = path.join(t.dir, 'partial');
    const [first] = await engine.listBackups({ tags: ['t1'] });
    const r = await engine.restoreBackup(first!.backup_id, { target, include: ['**/*.txt'] });
    expect(r.files_restored).toBe(2);
    expect(await readFile(path.join(target, 'ünïcödé ディレクトリ', 'файл 📦.txt'), 'utf8')).toBe('unicode content ✓\n');

    const obj = { channels: ['#general'], messages: [{ id: 1, text: 'hi' }] };
    const p = await engine.createBackup({ payload: obj, tags: ['api'] });
    const out = path.join(t.dir, 'payload');
    await engine.restoreBackup(p.backup_id, { target: out });
    expect(JSON.parse(await readFile(path.join(out, 'payload.json'), 'utf8'))).toEqual(obj);
    const s = await engine.createBackup({ payload: 'plain text payload', payloadName: 'note.txt' });
    const out2 = path.join(t.dir, 'payload2');
    await engine.restoreBackup(s.backup_id, { target: out2 });
    expect(await readFile(path.join(out2, 'note.txt'), 'utf8')).toBe('plain text payload');
  });

  it('refuses to restore into a non-empty target unless told to overwrite', async () => {
    const [first] = await engine.listBackups({ tags: ['t1'] });
    const target = path.join(t.dir, 'busy');
    await makeTree(target, { seed: 1 });
    await writeFile(path.join(target, 'keep.txt'), 'mine');
    await expect(engine.restoreBackup(first!.backup_id, { target })).rejects.toThrow(/not empty/);
    expect(await readFile(path.join(target, 'keep.txt'), 'utf8')).toBe('mine');
  });

  it('deletes a backup and the shards only it referenced', async () => {
    const dir = path.join(t.dir, 'deleteme');
    await makeTree(dir, { seed: 21, bigFiles: [3 * MiB] });
    const b = await engine.createBackup({ paths: [dir] });
    const usageBefore = (await engine.getStorageUsage()).reduce((n, l) => n + l.used_bytes, 0);
    expect(await engine.deleteBackup(b.backup_id)).toBe(true);
    const usageAfter = (await engine.getStorageUsage()).reduce((n, l) => n + l.used_bytes, 0);
    expect(usageBefore - usageAfter).toBeGreaterThan(2 * 3 * MiB);
    expect(await engine.getBackup(b.backup_id)).toBeNull();
    // The other backups still verify with every byte read back.
    const [first] = await engine.listBackups({ tags: ['t1'] });
    expect((await engine.verifyBackup(first!.backup_id, { readData: true })).status).toBe('healthy');
  });

  it('reads a file appended to while backing up as what was read, never torn', async () => {
    const dir = path.join(t.dir, 'growing');
    await makeTree(dir, { seed: 2, bigFiles: [2 * MiB] });
    const f = path.join(dir, 'big-0.bin');
    const fh = await open(f, 'a');
    const { backup_id, done } = await engine.startBackup({ paths: [dir] });
    await appendFile(f, 'x'.repeat(1000));
    await fh.close();
    const meta = await done;
    expect(meta.backup_id).toBe(backup_id);
    const target = path.join(t.dir, 'restore-growing');
    await engine.restoreBackup(backup_id, { target });
    const restored = await stat(path.join(target, 'big-0.bin'));
    expect([2 * MiB, 2 * MiB + 1000]).toContain(restored.size);
    await rm(target, { recursive: true });
  });
});
