/**
 * ShardWriter (backup/chunk-sink.ts) with no database: a MemoryShardIndex and memory locations. Dedup within a
 * backup and against the index, and the write-ordering invariant — a shard is recorded only once all its
 * replicas are stored, so a failed write records nothing and a backup that dies before its flush leaves no
 * record pointing at a missing object.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { ShardWriter } from '../../server/engine/backup/chunk-sink';
import { contentIdKey } from '../../server/engine/keys/keys';
import { shardKey } from '../../server/engine/repository/repository';
import type { StoredShard } from '../../server/engine/repository/shard-index';
import { type MemoryRepo, memoryRepo } from '../support/memory-repo';

let repo: MemoryRepo | null = null;
afterEach(async () => {
  await repo?.close();
  repo = null;
});

const dataKey = randomBytes(32);
const writer = (r: MemoryRepo, backupId: string) =>
  new ShardWriter(r.ctx, backupId, 'standard', contentIdKey(r.ctx.idKey, 'standard'), 'k1', dataKey, 'aes-256-gcm');

async function write(w: ShardWriter, chunks: Buffer[]): Promise<StoredShard[]> {
  const out: Promise<StoredShard>[] = [];
  for (const c of chunks) out.push((await w.add(Buffer.from(c), 'data')).shard);
  return Promise.all(out);
}

const objects = async (r: MemoryRepo) => Object.fromEntries(await Promise.all([...r.backends].map(async ([n, b]) => [n, (await b.usage()).objects])));

/** Every recorded replica's object is in its location (the invariant a crash must not break). */
async function recordsPointAtStoredObjects(r: MemoryRepo): Promise<string[]> {
  const broken: string[] = [];
  for (const rec of (await r.index.records(r.index.shardIds())).values()) {
    for (const rep of rec.replicas) {
      if (!(await r.backends.get(rep.location)!.stat(shardKey(rec.id)))) broken.push(`${rec.id} at ${rep.location}`);
    }
  }
  return broken;
}

describe('ShardWriter on a memory index', () => {
  it('stores a chunk seen twice in one backup once, and records it with the backup reference', async () => {
    repo = memoryRepo();
    const w = writer(repo, 'b1');
    const a = randomBytes(5000);
    const [s1, s2, s3] = await write(w, [a, randomBytes(3000), a]);
    await w.drain();
    expect(s1!.id).toBe(s3!.id);
    expect(s2!.id).not.toBe(s1!.id);
    expect(w.stats.newShards).toBe(2);
    expect(await objects(repo)).toEqual({ a: 2, b: 2 });
    expect((await repo.index.backupRecords('b1')).map((r) => r.id).sort()).toEqual([s1!.id, s2!.id].sort());
    expect(await recordsPointAtStoredObjects(repo)).toEqual([]);
  });

  it('reuses a shard the index already holds: nothing is stored, the new backup references it', async () => {
    repo = memoryRepo();
    const a = randomBytes(5000);
    const first = writer(repo, 'b1');
    const [s1] = await write(first, [a]);
    await first.drain();
    const second = writer(repo, 'b2');
    const [s2, s3] = await write(second, [a, randomBytes(2000)]);
    await second.drain();
    expect(s2).toEqual({ ...s1, isNew: false });
    expect(s3!.isNew).toBe(true);
    expect(second.stats.newShards).toBe(1);
    expect(await objects(repo)).toEqual({ a: 2, b: 2 });
    expect((await repo.index.backupRecords('b2')).map((r) => r.id).sort()).toEqual([s1!.id, s3!.id].sort());
  });

  it('a replica that cannot be written fails the backup and records nothing', async () => {
    repo = memoryRepo();
    repo.backends.get('b')!.beforePut = () => {
      throw new Error('disk on fire');
    };
    const w = writer(repo, 'b1');
    const failed = (async () => {
      await write(w, [randomBytes(4000), randomBytes(4000)]);
      await w.drain();
    })();
    await expect(failed).rejects.toThrow(/Storage location unavailable \(1 of 2 replicas written; disk on fire/);
    await w.drain().catch(() => undefined);
    expect(repo.index.shardIds()).toEqual([]);
    expect(await repo.index.backupRecords('b1')).toEqual([]);
  });

  it('fails over to another location and records only the locations that hold the shard', async () => {
    repo = memoryRepo({ locations: ['a', 'b', 'c'] });
    repo.backends.get('a')!.beforePut = () => {
      throw new Error('unreachable');
    };
    const w = writer(repo, 'b1');
    const [s] = await write(w, [randomBytes(4000)]);
    await w.drain();
    expect((await repo.index.records([s!.id])).get(s!.id)!.replicas.map((r) => r.location)).toEqual(['b', 'c']);
  });

  it('a backup that dies before its flush leaves no record pointing at a missing object', async () => {
    repo = memoryRepo();
    // Every other shard's second replica never finishes writing: the process dies with those writes under way.
    let puts = 0;
    repo.backends.get('b')!.beforePut = () => (puts++ % 2 ? new Promise<void>(() => undefined) : undefined);
    const w = writer(repo, 'b1');
    for (let i = 0; i < 8; i++) void w.add(randomBytes(3000), 'data').catch(() => undefined);
    // Once every write was tried, let the finished shards' records go out in their batch (the writer is never drained).
    for (let waited = 0; puts < 8 && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    expect(puts).toBe(8);
    expect(repo.index.shardIds().length).toBe(4);
    expect(await recordsPointAtStoredObjects(repo)).toEqual([]);
  });
});
