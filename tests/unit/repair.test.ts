/**
 * Repair with no database: repairBackup over a MemoryShardIndex and memory locations (memory-repo.ts). A bad
 * or missing copy is rewritten from a good one and recorded in the index; a shard below the replication
 * factor gets a new copy, recorded only once it is stored; a shard with no good copy anywhere is named
 * unrepairable and nothing is recorded for it; a write that fails records nothing.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { repairBackup, verifyBackup } from '../../server/engine/maintenance/verify';
import { pieceKey, shardKey } from '../../server/engine/repository/repository';
import { damageReplica, memoryBackup, memoryWriter, replicaStates } from '../support/memory-backup';
import { type MemoryRepo, memoryRepo } from '../support/memory-repo';

let repo: MemoryRepo | null = null;
afterEach(async () => {
  await repo?.close();
  repo = null;
});

const plainRepo = (locations = ['a', 'b', 'c']) => memoryRepo({ locations, config: { enable_encryption: false } });
const files = () => ({ 'one.bin': randomBytes(5000), 'two.bin': randomBytes(7000), 'three.bin': randomBytes(3000) });
const bytesAt = async (r: MemoryRepo, loc: string, key: string) => Buffer.from(await r.backends.get(loc)!.get(key));
const failPuts = (r: MemoryRepo, loc: string) => {
  r.backends.get(loc)!.beforePut = () => {
    throw new Error(`${loc} refuses writes`);
  };
};

/** Every replica state the index is told, as "shard location state" (addReplica: "ok"), in order. */
function recordsTold(r: MemoryRepo): string[] {
  const told: string[] = [];
  const { markReplica, addReplica } = r.index;
  r.index.markReplica = (shard, loc, state, at) => (told.push(`${shard} ${loc} ${state}`), markReplica.call(r.index, shard, loc, state, at));
  r.index.addReplica = (shard, loc, at, o) => (told.push(`${shard} ${loc} ok`), addReplica.call(r.index, shard, loc, at, o));
  return told;
}

describe('repair on a memory index', () => {
  it('a damaged copy and a missing copy are rewritten from the good one and recorded ok', async () => {
    repo = plainRepo();
    const { row, shardOf } = await memoryBackup(repo, files());
    const [damaged, vanished] = [shardOf['two.bin']!, shardOf['one.bin']!];
    const locs = async (id: string) => Object.keys(await replicaStates(repo!, id)).sort();
    const [at1, at2] = [await locs(damaged), await locs(vanished)];
    await damageReplica(repo, at1[0]!, damaged);
    await repo.backends.get(at2[1]!)!.delete(shardKey(vanished));
    expect((await verifyBackup(repo.ctx, row, false)).status).toBe('degraded');
    expect(await replicaStates(repo, damaged)).toEqual({ [at1[0]!]: 'bad', [at1[1]!]: 'ok' });

    const r = await repairBackup(repo.ctx, row);
    expect(r.status).toBe('healthy');
    expect(r.unrepairable).toEqual([]);
    expect(r.repaired).toEqual(expect.arrayContaining([{ shard_id: damaged, location: at1[0] }, { shard_id: vanished, location: at2[1] }]));
    expect(r.repaired).toHaveLength(2);
    expect(await replicaStates(repo, damaged)).toEqual({ [at1[0]!]: 'ok', [at1[1]!]: 'ok' });
    expect(await replicaStates(repo, vanished)).toEqual({ [at2[0]!]: 'ok', [at2[1]!]: 'ok' });
    expect(await bytesAt(repo, at1[0]!, shardKey(damaged))).toEqual(await bytesAt(repo, at1[1]!, shardKey(damaged)));
    expect((await verifyBackup(repo.ctx, row, true)).status).toBe('healthy');
  });

  it('below the replication factor: a copy is added on another location and recorded there', async () => {
    repo = plainRepo();
    const { row, shardOf } = await memoryBackup(repo, files());
    const id = shardOf['three.bin']!;
    const had = Object.keys(await replicaStates(repo, id));
    repo.ctx.config.replication_factor = 3;
    const r = await repairBackup(repo.ctx, row);
    expect(r.status).toBe('healthy');
    const added = ['a', 'b', 'c'].find((l) => !had.includes(l))!;
    expect(r.repaired).toContainEqual({ shard_id: id, location: added });
    expect(await replicaStates(repo, id)).toEqual({ a: 'ok', b: 'ok', c: 'ok' });
    expect(await bytesAt(repo, added, shardKey(id))).toEqual(await bytesAt(repo, had[0]!, shardKey(id)));
  });

  it('no good copy anywhere: the shard is named unrepairable, nothing is written or recorded for it', async () => {
    repo = plainRepo();
    const { row, shardOf } = await memoryBackup(repo, files());
    const id = shardOf['two.bin']!;
    const had = Object.keys(await replicaStates(repo, id)).sort();
    for (const l of had) await damageReplica(repo, l, id);
    const puts: string[] = [];
    for (const [name, b] of repo.backends) b.beforePut = (key) => void puts.push(`${name}:${key}`);

    const r = await repairBackup(repo.ctx, row);
    expect(r).toMatchObject({ status: 'corrupted', unrepairable: [id], repaired: [] });
    expect(puts).toEqual([]);
    expect(await replicaStates(repo, id)).toEqual(Object.fromEntries(had.map((l) => [l, 'bad'])));
    // What the operator is told: verify names the shard, each bad copy, and the file that is lost.
    const v = await verifyBackup(repo.ctx, row, false);
    expect(v.lost_shards).toEqual([id]);
    expect(v.affected_files).toEqual(['two.bin']);
    expect(v.bad_shards.map((b) => b.message)).toEqual(had.map((l) => `Shard checksum mismatch for ${id} at ${l}`));
  });

  it('a lost shard is re-created under its own name from another shard with the same content', async () => {
    repo = plainRepo();
    const data = files();
    const { row, shardOf } = await memoryBackup(repo, data);
    const id = shardOf['two.bin']!;
    const had = Object.keys(await replicaStates(repo, id)).sort();
    for (const l of had) await damageReplica(repo, l, id);
    await verifyBackup(repo.ctx, row, false); // marks both copies bad: the next backup stores the content anew
    const w = memoryWriter(repo, 'b2');
    const other = (await (await w.add(Buffer.from(data['two.bin']), 'data')).shard).id;
    await w.drain();
    expect(other).not.toBe(id);

    const r = await repairBackup(repo.ctx, row);
    expect(r).toMatchObject({ status: 'healthy', unrepairable: [] });
    expect(r.repaired.filter((x) => x.shard_id === id).map((x) => x.location).sort()).toEqual(had);
    expect(await replicaStates(repo, id)).toEqual(Object.fromEntries(had.map((l) => [l, 'ok'])));
    expect((await verifyBackup(repo.ctx, row, true)).status).toBe('healthy');
  });

  it('re-creating a lost shard: a location whose write fails is not recorded, another takes the copy', async () => {
    repo = plainRepo();
    const data = files();
    const { row, shardOf } = await memoryBackup(repo, data);
    const id = shardOf['one.bin']!;
    const had = Object.keys(await replicaStates(repo, id)).sort();
    const spare = ['a', 'b', 'c'].find((l) => !had.includes(l))!;
    for (const l of had) await damageReplica(repo, l, id);
    await verifyBackup(repo.ctx, row, false);
    const w = memoryWriter(repo, 'b2');
    await (await w.add(Buffer.from(data['one.bin']), 'data')).shard;
    await w.drain();
    failPuts(repo, had[0]!);
    const told = recordsTold(repo);

    const r = await repairBackup(repo.ctx, row);
    expect(r.repaired.filter((x) => x.shard_id === id).map((x) => x.location).sort()).toEqual([had[1]!, spare].sort());
    expect(told.filter((t) => t.startsWith(`${id} ${had[0]} `) && !t.endsWith(' bad'))).toEqual([]);
    expect(await replicaStates(repo, id)).toEqual({ [had[0]!]: 'bad', [had[1]!]: 'ok', [spare]: 'ok' });
  });

  it('a rewrite that fails records nothing: the copy stays bad and is not listed as repaired', async () => {
    repo = plainRepo(['a', 'b']);
    const { row, shardOf } = await memoryBackup(repo, files());
    const id = shardOf['one.bin']!;
    await damageReplica(repo, 'a', id);
    failPuts(repo, 'a');
    const told = recordsTold(repo);
    const r = await repairBackup(repo.ctx, row);
    expect(r).toMatchObject({ status: 'degraded', unrepairable: [], repaired: [] });
    expect(await replicaStates(repo, id)).toEqual({ a: 'bad', b: 'ok' });
    // Not even for a moment: the verify that ends a repair would hide a good mark it then finds wrong.
    expect(told.filter((t) => t.startsWith(`${id} a `))).toEqual([`${id} a bad`, `${id} a bad`]);
  });

  it('an added copy whose write fails is not recorded', async () => {
    repo = plainRepo();
    const { row, shardOf } = await memoryBackup(repo, files());
    const id = shardOf['one.bin']!;
    const had = Object.keys(await replicaStates(repo, id)).sort();
    const spare = ['a', 'b', 'c'].find((l) => !had.includes(l))!;
    failPuts(repo, spare);
    repo.ctx.config.replication_factor = 3;
    const r = await repairBackup(repo.ctx, row);
    expect(r.status).toBe('degraded');
    expect(r.repaired).toEqual([]);
    expect(Object.keys(await replicaStates(repo, id)).sort()).toEqual(had);
  });
});

describe('repair of erasure-coded shards on a memory index', () => {
  it('a piece at a disabled location is rewritten on a free location, its row moving there', async () => {
    repo = memoryRepo({ locations: ['a', 'b', 'c', 'd'], config: { enable_encryption: false, erasure_coding: { data_shards: 2, parity_shards: 1 } } });
    const { row, shardOf } = await memoryBackup(repo, files());
    const id = shardOf['two.bin']!;
    const rec = (await repo.index.records([id])).get(id)!;
    expect(rec.coding).toEqual({ k: 2, m: 1 });
    const lostAt = rec.replicas[0]!;
    const free = ['a', 'b', 'c', 'd'].find((l) => !rec.replicas.some((x) => x.location === l))!;
    await repo.backends.get(lostAt.location)!.delete(pieceKey(id, rec.coding!, lostAt.piece!));
    repo.ctx.locations.get(lostAt.location)!.config.enabled = false;

    const r = await repairBackup(repo.ctx, row);
    expect(r.repaired).toContainEqual({ shard_id: id, location: free, piece: lostAt.piece });
    const after = (await repo.index.records([id])).get(id)!;
    expect(after.replicas.map((x) => x.location)).not.toContain(lostAt.location);
    expect(after.replicas).toContainEqual({ location: free, state: 'ok', piece: lostAt.piece });
    expect(after.replicas).toHaveLength(3);
    expect((await verifyBackup(repo.ctx, row, true)).status).toBe('healthy');
  });

  it('fewer than k good pieces: unrepairable, and no piece row is added', async () => {
    repo = memoryRepo({ locations: ['a', 'b', 'c', 'd'], config: { enable_encryption: false, erasure_coding: { data_shards: 2, parity_shards: 1 } } });
    const { row, shardOf } = await memoryBackup(repo, files());
    const id = shardOf['two.bin']!;
    const rec = (await repo.index.records([id])).get(id)!;
    for (const p of rec.replicas.slice(0, 2)) await repo.backends.get(p.location)!.delete(pieceKey(id, rec.coding!, p.piece!));
    const r = await repairBackup(repo.ctx, row);
    expect(r.unrepairable).toContain(id);
    expect(r.status).toBe('corrupted');
    const after = (await repo.index.records([id])).get(id)!;
    expect(after.replicas.map((x) => x.location)).toEqual(rec.replicas.map((x) => x.location));
  });
});
