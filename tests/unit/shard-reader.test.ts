/**
 * The read path with no database: ShardReader over a MemoryShardIndex and memory locations (fail-over and
 * replica marks), and restoreBackup over them, as restic tests its filerestorer with fakes. The repository
 * here is unencrypted (enable_encryption off): data keys still come from the catalog's data_keys table,
 * which the shard index does not cover.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChunkSink, ShardWriter } from '../../server/engine/backup/chunk-sink';
import type { BackupRow } from '../../server/engine/catalog/catalog';
import { contentIdKey } from '../../server/engine/keys/keys';
import { shardKey } from '../../server/engine/repository/repository';
import { restoreBackup } from '../../server/engine/restore/restore';
import { ShardReader } from '../../server/engine/restore/shard-reader';
import { type MemoryRepo, memoryRepo } from '../support/memory-repo';

let repo: MemoryRepo | null = null;
let dir: string | null = null;
afterEach(async () => {
  await repo?.close();
  repo = null;
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = null;
});

const plainRepo = () => memoryRepo({ config: { enable_encryption: false } });
const writer = (r: MemoryRepo, backupId = 'b1') => new ShardWriter(r.ctx, backupId, 'standard', contentIdKey(r.ctx.idKey, 'standard'), '', null, 'none');

async function storeOne(r: MemoryRepo, data: Buffer): Promise<string> {
  const w = writer(r);
  const s = await (await w.add(Buffer.from(data), 'data')).shard;
  await w.drain();
  return s.id;
}

/** Flips one byte in the middle of the object at a location (damage the checksum catches). */
async function damage(r: MemoryRepo, location: string, shardId: string): Promise<void> {
  const b = r.backends.get(location)!;
  const bytes = await b.get(shardKey(shardId));
  bytes[bytes.length >> 1]! ^= 0xff;
  await b.put(shardKey(shardId), bytes);
}

/** The error a promise rejects with; fails the test if it resolves. */
async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as Error,
  );
}

const states = async (r: MemoryRepo, id: string) => Object.fromEntries((await r.index.records([id])).get(id)!.replicas.map((x) => [x.location, x.state]));

describe('ShardReader on a memory index', () => {
  it('reads a shard back from its first replica and marks nothing', async () => {
    repo = plainRepo();
    const data = randomBytes(6000);
    const id = await storeOne(repo, data);
    const reader = new ShardReader(repo.ctx, 'standard');
    await reader.load([id]);
    expect((await reader.read(id)).equals(data)).toBe(true);
    expect(await states(repo, id)).toEqual({ a: 'ok', b: 'ok' });
  });

  it('marks a damaged replica bad and reads the next one', async () => {
    repo = plainRepo();
    const data = randomBytes(6000);
    const id = await storeOne(repo, data);
    await damage(repo, 'a', id);
    const reader = new ShardReader(repo.ctx, 'standard');
    await reader.load([id]);
    expect((await reader.read(id)).equals(data)).toBe(true);
    expect(await states(repo, id)).toEqual({ a: 'bad', b: 'ok' });
  });

  it('marks a vanished replica missing and reads the next one', async () => {
    repo = plainRepo();
    const data = randomBytes(6000);
    const id = await storeOne(repo, data);
    await repo.backends.get('a')!.delete(shardKey(id));
    const reader = new ShardReader(repo.ctx, 'standard');
    await reader.load([id]);
    expect((await reader.read(id)).equals(data)).toBe(true);
    expect(await states(repo, id)).toEqual({ a: 'missing', b: 'ok' });
  });

  it('with every replica bad, fails naming the shard and what each copy showed, and marks them all', async () => {
    repo = plainRepo();
    const id = await storeOne(repo, randomBytes(6000));
    await damage(repo, 'a', id);
    await repo.backends.get('b')!.delete(shardKey(id));
    const reader = new ShardReader(repo.ctx, 'standard');
    await reader.load([id]);
    const err = await failure(reader.read(id));
    expect(err.message).toContain(`Missing required shards: no readable replica of shard ${id}`);
    expect(err.message).toContain(`Shard checksum mismatch for ${id} at a`);
    expect(err.message).toMatch(/not found/);
    expect(await states(repo, id)).toEqual({ a: 'bad', b: 'missing' });
  });

  it('refuses a shard the index does not know', async () => {
    repo = plainRepo();
    const reader = new ShardReader(repo.ctx, 'standard');
    const id = `${'e'.repeat(64)}-${'0'.repeat(12)}`;
    await reader.load([id]);
    await expect(reader.read(id)).rejects.toThrow(`Missing required shards: shard ${id} is not in the catalog.`);
  });
});

describe('restore on a memory index', () => {
  /** A backup of `files` (one chunk each) written by hand: its data shards, file list and chunk table. */
  async function backup(r: MemoryRepo, files: Record<string, Buffer>): Promise<{ row: BackupRow; shardOf: Record<string, string> }> {
    const w = writer(r);
    const size = { avgSize: 1 << 20, minSize: 1 << 18, maxSize: 1 << 22 };
    const table: string[] = [];
    const lines: string[] = [];
    const shardOf: Record<string, string> = {};
    for (const [p, data] of Object.entries(files)) {
      const s = await (await w.add(Buffer.from(data), 'data')).shard;
      shardOf[p] = s.id;
      lines.push(JSON.stringify({ p, t: 'f', m: 0o644, mt: 1_700_000_000_000, s: data.length, x: [[table.length, 0, data.length]] }));
      table.push(s.id);
    }
    const stream = async (text: string) => {
      const sink = new ChunkSink(w, 'manifest', 'cdc', size);
      await sink.write(Buffer.from(text));
      await sink.end();
      return sink.shardIds();
    };
    const filesShards = await stream(`${lines.join('\n')}\n`);
    const chunksShards = await stream(`${JSON.stringify(table)}\n`);
    await w.drain();
    const row = { id: 'b1', securityLevel: 'standard', manifestShards: { files: filesShards, chunks: chunksShards } } as BackupRow;
    return { row, shardOf };
  }

  it('restores byte for byte, reading past a damaged replica', async () => {
    repo = plainRepo();
    const files = { 'one.bin': randomBytes(5000), 'two.bin': randomBytes(7000) };
    const { row, shardOf } = await backup(repo, files);
    await damage(repo, 'a', shardOf['two.bin']!);
    dir = await mkdtemp(path.join(tmpdir(), 'pxunit-'));
    const res = await restoreBackup(repo.ctx, row, { target: dir });
    expect(res.files_restored).toBe(2);
    for (const [p, data] of Object.entries(files)) expect((await readFile(path.join(dir, p))).equals(data)).toBe(true);
    expect(await states(repo, shardOf['two.bin']!)).toEqual({ a: 'bad', b: 'ok' });
  });

  it('a shard with no readable replica: the other files are restored, the lost one is absent, and the error says what to do', async () => {
    repo = plainRepo();
    const files = { 'one.bin': randomBytes(5000), 'two.bin': randomBytes(7000), 'three.bin': randomBytes(3000) };
    const { row, shardOf } = await backup(repo, files);
    await damage(repo, 'a', shardOf['two.bin']!);
    await damage(repo, 'b', shardOf['two.bin']!);
    dir = await mkdtemp(path.join(tmpdir(), 'pxunit-'));
    const err = await failure(restoreBackup(repo.ctx, row, { target: dir }));
    expect(err.message).toContain('Unable to recover backup b1: Missing required shards. Restored 2 file(s)');
    expect(err.message).toContain('two.bin');
    expect(err.message).toContain(`no readable replica of shard ${shardOf['two.bin']}`);
    expect(err.message).toContain('Run `plexichat-backup verify b1` and `repair`, or restore what is readable with --allow-partial.');
    expect((await readdir(dir)).sort()).toEqual(['one.bin', 'three.bin']);
    for (const p of ['one.bin', 'three.bin']) expect((await readFile(path.join(dir, p))).equals(files[p as keyof typeof files])).toBe(true);
  });
});
