/**
 * Storage optimize with no database: optimizeStorage over a MemoryShardIndex and memory locations
 * (memory-repo.ts). Moving a copy never leaves a replica row naming an object that is not at its location:
 * the new row is recorded only once the copy is stored, and the old row goes before the old object is
 * deleted (an object whose delete fails is then an orphan for storage gc, never a row pointing at nothing).
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { optimizeStorage } from '../../server/engine/maintenance/optimize';
import { shardKey } from '../../server/engine/repository/repository';
import { memoryBackup } from '../support/memory-backup';
import { type MemoryRepo, memoryRepo } from '../support/memory-repo';

let repo: MemoryRepo | null = null;
afterEach(async () => {
  await repo?.close();
  repo = null;
});

const files = () => ({ 'one.bin': randomBytes(5000), 'two.bin': randomBytes(7000), 'three.bin': randomBytes(3000) });
const locationsOf = async (r: MemoryRepo, id: string) => (await r.index.records([id])).get(id)!.replicas.map((x) => `${x.location}:${x.state}`);
const holds = async (r: MemoryRepo, loc: string, id: string) => (await r.backends.get(loc)!.stat(shardKey(id))) !== null;

/**
 * Watches every replica row change against storage: a row added must name a stored object, and an object
 * deleted must have no row left. Returns the violations seen (none expected).
 */
function watchOrder(r: MemoryRepo): string[] {
  const wrong: string[] = [];
  const { addReplica } = r.index;
  r.index.addReplica = async (shard, loc, at, o) => {
    if (!(await holds(r, loc, shard))) wrong.push(`row for ${shard} at ${loc} recorded before its object was stored`);
    return addReplica.call(r.index, shard, loc, at, o);
  };
  for (const [name, b] of r.backends) {
    b.beforeDelete = async (key) => {
      const id = key.slice(key.lastIndexOf('/') + 1);
      if ((await r.index.records([id])).get(id)?.replicas.some((x) => x.location === name)) wrong.push(`object of ${id} at ${name} deleted while its row is still there`);
    };
  }
  return wrong;
}

describe('storage optimize on a memory index', () => {
  it('a copy on a disabled location moves: the new row once the copy is stored, the old row before the old object goes', async () => {
    repo = memoryRepo({ locations: ['a', 'b', 'c'], config: { enable_encryption: false } });
    await memoryBackup(repo, files());
    const onA = await repo.index.largestAt('a', 0, 100);
    expect(onA.length).toBeGreaterThan(0);
    repo.ctx.locations.get('a')!.config.enabled = false;
    const wrong = watchOrder(repo);

    const r = await optimizeStorage(repo.ctx);
    expect(r.problems).toEqual([]);
    expect(wrong).toEqual([]);
    expect(r.copies_removed).toBe(onA.length);
    for (const id of onA) {
      expect(await locationsOf(repo, id)).toEqual(['b:ok', 'c:ok']);
      expect(await holds(repo, 'c', id)).toBe(true);
      expect(await holds(repo, 'a', id)).toBe(false);
    }
    expect(await repo.index.largestAt('a', 0, 100)).toEqual([]);
  });

  it('a copy that cannot be written is not recorded, and the old copy is kept with its row', async () => {
    repo = memoryRepo({ locations: ['a', 'b', 'c'], config: { enable_encryption: false } });
    await memoryBackup(repo, files());
    const onA = await repo.index.largestAt('a', 0, 100);
    repo.ctx.locations.get('a')!.config.enabled = false;
    repo.backends.get('c')!.beforePut = () => {
      throw new Error('c refuses writes');
    };
    const r = await optimizeStorage(repo.ctx);
    expect(r.problems).toHaveLength(onA.length);
    expect(r.copies_removed).toBe(0);
    for (const id of onA) {
      expect(await locationsOf(repo, id)).toEqual(['a:ok', 'b:ok']);
      expect(await holds(repo, 'a', id)).toBe(true);
    }
  });

  it('an old object whose delete fails stays as an orphan, named in the report: its row is gone all the same', async () => {
    repo = memoryRepo({ locations: ['a', 'b', 'c'], config: { enable_encryption: false } });
    await memoryBackup(repo, files());
    const onA = await repo.index.largestAt('a', 0, 100);
    repo.ctx.locations.get('a')!.config.enabled = false;
    repo.backends.get('a')!.beforeDelete = () => {
      throw new Error('a refuses deletes');
    };
    const r = await optimizeStorage(repo.ctx);
    expect(r.copies_removed).toBe(0);
    expect([...r.problems].sort()).toEqual(
      onA.map((id) => `${id}: its copy on a is no longer in the catalog, but deleting it failed (a refuses deletes); it takes space there until storage gc removes it (plexichat-backup storage gc, with a enabled) or it is deleted by hand.`).sort(),
    );
    for (const id of onA) {
      expect(await locationsOf(repo, id)).toEqual(['b:ok', 'c:ok']);
      expect(await holds(repo, 'a', id)).toBe(true);
    }
  });

  it('a location over its capacity hands its largest copy on: the row moves once the copy is stored, the old object after', async () => {
    repo = memoryRepo({ locations: ['a', 'b', 'c'], config: { enable_encryption: false } });
    await memoryBackup(repo, files());
    const a = repo.ctx.locations.get('a')!;
    const [largest] = await repo.index.largestAt('a', 0, 1);
    a.config.max_size_gb = (a.usedBytes - 1) / 1024 ** 3;
    const wrong = watchOrder(repo);

    const r = await optimizeStorage(repo.ctx);
    expect(r.problems).toEqual([]);
    expect(wrong).toEqual([]);
    expect(r.moves).toEqual([expect.objectContaining({ shard_id: largest, from: 'a', to: ['c'] })]);
    expect(await locationsOf(repo, largest!)).toEqual(['b:ok', 'c:ok']);
    expect(await holds(repo, 'c', largest!)).toBe(true);
    expect(await holds(repo, 'a', largest!)).toBe(false);
  });

  it('over capacity, a copy that cannot be written leaves the shard as it was', async () => {
    repo = memoryRepo({ locations: ['a', 'b', 'c'], config: { enable_encryption: false } });
    await memoryBackup(repo, files());
    const a = repo.ctx.locations.get('a')!;
    const [largest] = await repo.index.largestAt('a', 0, 1);
    a.config.max_size_gb = (a.usedBytes - 1) / 1024 ** 3;
    repo.backends.get('c')!.beforePut = () => {
      throw new Error('c refuses writes');
    };
    const r = await optimizeStorage(repo.ctx);
    expect(r.problems.some((p) => p.startsWith(`${largest}:`))).toBe(true);
    expect(await locationsOf(repo, largest!)).toEqual(['a:ok', 'b:ok']);
    expect(await holds(repo, 'a', largest!)).toBe(true);
  });
});
