/**
 * Looking inside a backup: the file list from its manifest (filtered, paged) and one file streamed out, byte
 * for byte; a damaged chunk ends the stream with an integrity error, never with wrong bytes.
 */
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree, Rng } from '../support/tree';

const MiB = 1024 * 1024;
let t: TestEnv;
let engine: BackupEngine;
let src: string;
let backupId: string;

async function collect(bytes: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of bytes) parts.push(b);
  return Buffer.concat(parts);
}

beforeAll(async () => {
  t = await makeEnv('embedded');
  engine = await t.open();
  src = path.join(t.dir, 'src');
  await makeTree(src, { seed: 8, smallFiles: 120, bigFiles: [5 * MiB + 123], unicode: true });
  await writeFile(path.join(src, 'notes-ü.txt'), 'a small file with a unicode name');
  await writeFile(path.join(src, 'big-random.bin'), new Rng(9).bytes(7 * MiB));
  backupId = (await engine.createBackup({ paths: [src] })).backup_id;
});
afterAll(async () => t?.cleanup());

describe('browsing a backup', () => {
  it('lists the files of the manifest, filtered by path and paged', async () => {
    const all = await engine.listBackupFiles(backupId, { limit: 1000 });
    expect(all.total).toBe(all.entries.length);
    expect(all.entries.filter((e) => e.type === 'file').length).toBeGreaterThanOrEqual(123);
    const page = await engine.listBackupFiles(backupId, { limit: 10, offset: 10 });
    expect(page).toMatchObject({ total: all.total, entries: all.entries.slice(10, 20) });
    const found = await engine.listBackupFiles(backupId, { filter: 'NOTES-Ü' });
    expect(found.entries.map((e) => [e.path.split('/').pop(), e.type, e.size])).toEqual([['notes-ü.txt', 'file', 32]]);
  });

  it('streams a file out byte for byte, small or spanning many chunks', async () => {
    const list = (await engine.listBackupFiles(backupId, { limit: 1000 })).entries;
    for (const name of ['notes-ü.txt', 'big-random.bin']) {
      const entry = list.find((e) => e.path.endsWith(name))!;
      const { entry: meta, bytes } = await engine.readBackupFile(backupId, entry.path, { actor: 'test' });
      const got = await collect(bytes);
      const want = await readFile(path.join(src, name));
      expect(meta.size).toBe(want.length);
      expect(createHash('sha256').update(got).digest('hex')).toBe(createHash('sha256').update(want).digest('hex'));
    }
    const dir = list.find((e) => e.type === 'dir')!;
    await expect(engine.readBackupFile(backupId, dir.path)).rejects.toThrow(/is a dir, not a file/);
    await expect(engine.readBackupFile(backupId, 'no/such/file')).rejects.toThrow(/has no file "no\/such\/file"/);
  });

  it('ends the stream with an integrity error when every copy of one of its chunks is damaged', async () => {
    const entry = (await engine.listBackupFiles(backupId, { filter: 'big-random.bin' })).entries[0]!;
    // The largest data shards belong to the random file; damage every replica of one of them.
    const victim = (await engine.getShardMap(backupId)).filter((s) => s.kind === 'data').sort((a, b) => b.plain_size - a.plain_size)[1]!;
    for (const r of victim.replicas) {
      const file = path.join(t.config.storage_root, r.location, 'data', victim.shard_id.slice(0, 2), victim.shard_id);
      const data = await readFile(file);
      const at = Math.floor(data.length / 2);
      data[at] = data[at]! ^ 0xff;
      await writeFile(file, data);
    }
    const { bytes } = await engine.readBackupFile(backupId, entry.path);
    await expect(collect(bytes)).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringMatching(/big-random\.bin" of backup .* cannot be read: .*Run `plexichat-backup verify/) });
  });
});
