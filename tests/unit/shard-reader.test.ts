/**
 * The read path with no database: ShardReader over a MemoryShardIndex and memory locations (fail-over and
 * replica marks), and restoreBackup over them, as restic tests its filerestorer with fakes; plaintext
 * repositories, and encrypted ones whose data keys come from a MemoryKeySource (repository/key-source.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { shardKey } from '../../server/engine/repository/repository';
import { restoreBackup } from '../../server/engine/restore/restore';
import { ShardReader } from '../../server/engine/restore/shard-reader';
import { damageReplica, memoryBackup, memoryWriter, replicaStates } from '../support/memory-backup';
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
const writer = (r: MemoryRepo) => memoryWriter(r);

async function storeOne(r: MemoryRepo, data: Buffer): Promise<string> {
  const w = writer(r);
  const s = await (await w.add(Buffer.from(data), 'data')).shard;
  await w.drain();
  return s.id;
}

const damage = damageReplica;

/** The error a promise rejects with; fails the test if it resolves. */
async function failure(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error('expected a failure');
    },
    (e: unknown) => e as Error,
  );
}

const states = replicaStates;

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

  it('yields the lines of a stream cut across shards anywhere: inside a line, inside a character, at a newline', async () => {
    repo = plainRepo();
    const lines = ['{"p":"a"}', '{"p":"é漢字🙂"}', '{"p":"' + 'x'.repeat(300) + '"}', '{"p":"b"}', '{"p":"ü"}'];
    const text = Buffer.from(`${lines[0]}\n${lines[1]}\n\n${lines[2]}\n${lines[3]}\n${lines[4]}`); // an empty line, no final newline
    const at = (s: string) => text.indexOf(Buffer.from(s));
    // Cuts: one byte into the 4-byte emoji, right after a newline, right before one, inside a long line.
    const cuts = [at('🙂') + 1, at(lines[2]!), at(lines[3]!) - 1, at(lines[2]!) + 100, text.length - 2].sort((a, b) => a - b);
    const ids: string[] = [];
    let from = 0;
    for (const c of [...cuts, text.length]) {
      ids.push(await storeOne(repo, text.subarray(from, c)));
      from = c;
    }
    const reader = new ShardReader(repo.ctx, 'standard');
    await reader.load(ids);
    const got: string[] = [];
    for await (const l of reader.lines(ids)) got.push(l);
    expect(got).toEqual(lines);
  });
});

describe('restore on a memory index', () => {
  const backup = (r: MemoryRepo, files: Record<string, Buffer>) => memoryBackup(r, files);

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

describe('an encrypted repository on a memory index (keys from a memory key source)', () => {
  const encRepo = () => memoryRepo({ config: { enable_encryption: true } });

  it('restores byte for byte; the stored objects do not hold the plaintext', async () => {
    repo = encRepo();
    const key = repo.keySource.add('standard');
    const files = { 'one.bin': Buffer.from('attack at dawn '.repeat(400)), 'two.bin': randomBytes(7000) };
    const { row, shardOf } = await memoryBackup(repo, files, { key });
    const stored = await repo.backends.get('a')!.get(shardKey(shardOf['one.bin']!));
    expect(stored.includes(Buffer.from('attack at dawn'))).toBe(false);
    dir = await mkdtemp(path.join(tmpdir(), 'pxunit-'));
    const res = await restoreBackup(repo.ctx, row, { target: dir });
    expect(res.files_restored).toBe(2);
    for (const [p, data] of Object.entries(files)) expect((await readFile(path.join(dir, p))).equals(data)).toBe(true);
  });

  it('refuses a shard whose key belongs to another security level, or is unknown', async () => {
    repo = encRepo();
    const high = repo.keySource.add('high');
    const w = memoryWriter(repo, 'b1', high);
    const id = (await (await w.add(randomBytes(3000), 'data')).shard).id;
    await w.drain();
    await expect(new ShardReader(repo.ctx, 'standard').load([id])).rejects.toThrow(`Data key ${high.keyId} is missing from the catalog`);
    const other = memoryRepo({ config: { enable_encryption: true } });
    try {
      other.keySource.add('standard');
      const w2 = memoryWriter(other, 'b1', { keyId: 'never-registered', key: randomBytes(32) });
      const id2 = (await (await w2.add(randomBytes(3000), 'data')).shard).id;
      await w2.drain();
      await expect(new ShardReader(other.ctx, 'standard').load([id2])).rejects.toThrow('Data key never-registered is missing from the catalog');
    } finally {
      await other.close();
    }
  });

  it('an encrypting repository refuses to read an unencrypted object, even one whose checksum is right', async () => {
    repo = encRepo();
    const id = await storeOne(repo, randomBytes(6000));
    const reader = new ShardReader(repo.ctx, 'standard');
    await reader.load([id]);
    await expect(reader.read(id)).rejects.toThrow('the object is not encrypted, but this repository requires encryption (planted or tampered object)');
    expect(await states(repo, id)).toEqual({ a: 'bad', b: 'bad' });
  });
});
