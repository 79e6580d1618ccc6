import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { BackupEngine } from '../../server/engine/engine';
import { shardKey } from '../../server/engine/repository/repository';
import { treeDiff } from '../support/compare';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

describe('optimize_storage_locations', () => {
  const envs: TestEnv[] = [];
  const engines: BackupEngine[] = [];
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await Promise.all(envs.map((e) => e.cleanup()));
  });

  /** An installation whose storage locations a test rewrites in its config file, reopening the engine each time. */
  async function installation() {
    const t = await makeEnv('embedded');
    envs.push(t);
    const at = (name: string, extra: Record<string, unknown>) => ({ name, type: 'local', path: path.join(t.dir, name), ...extra });
    const cfg = async (locations: unknown[]) => {
      await writeFile(t.env.PLEXICHAT_CONFIG!, JSON.stringify({ storage_locations: locations }));
      const e = await BackupEngine.open(loadConfig(t.env), { log: () => undefined });
      engines.push(e);
      return e;
    };
    return { t, cfg, at };
  }

  /** Three locations a, b, c in one region (a first), and a backup of ~6 MiB on a and b. */
  async function backedUpOnThree(seed: number) {
    const { t, cfg, at } = await installation();
    const loc = (name: string, extra: Record<string, unknown> = {}) => at(name, { region: 'eu', ...extra });
    const src = path.join(t.dir, 'src');
    await makeTree(src, { seed, smallFiles: 50, bigFiles: [6 * 1024 * 1024] });
    const first = await cfg([loc('a', { priority: 1 }), loc('b', { priority: 2 }), loc('c', { priority: 3 })]);
    const b = await first.createBackup({ paths: [src] });
    return { t, cfg, loc, src, first, b };
  }

  it('moves replicas off a disabled location and spreads a single-region shard, then the old location can go', async () => {
    const { t, cfg, at } = await installation();
    const loc = (name: string, region: string, extra: Record<string, unknown> = {}) => at(name, { region, ...extra });
    const src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 5, smallFiles: 300, bigFiles: [2 * 1024 * 1024] });

    const first = await cfg([loc('a', 'eu'), loc('b', 'eu')]);
    const b = await first.createBackup({ paths: [src] });
    expect((await first.getShardMap(b.backup_id)).every((s) => s.replicas.map((r) => r.location).sort().join() === 'a,b')).toBe(true);

    // b is being retired; c is a new location in another region.
    const second = await cfg([loc('a', 'eu'), loc('b', 'eu', { enabled: false }), loc('c', 'us')]);
    const dry = await second.optimizeStorage({ dryRun: true });
    expect(dry.copies_added).toBeGreaterThan(0);
    expect((await second.getShardMap(b.backup_id)).every((s) => s.replicas.some((r) => r.location === 'b'))).toBe(true);

    const done = await second.optimizeStorage();
    expect(done.problems).toEqual([]);
    for (const s of await second.getShardMap(b.backup_id)) {
      expect(s.replicas.map((r) => r.location).sort()).toEqual(['a', 'c']);
    }
    await rm(path.join(t.dir, 'b'), { recursive: true, force: true });
    expect((await second.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
    const target = path.join(t.dir, 'restored');
    await second.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
    // Nothing left to do.
    const again = await second.optimizeStorage();
    expect(again.copies_added + again.copies_removed).toBe(0);
  });

  it('moves replicas off a location over its capacity until it fits, largest first; the dry run changes nothing', async () => {
    const { cfg, loc, first, b } = await backedUpOnThree(9);
    const usage = async (e: BackupEngine) => Object.fromEntries((await e.getStorageUsage()).map((u) => [u.name, u.used_bytes])) as Record<'a' | 'b' | 'c', number>;
    const before = await usage(first);
    expect(before.c).toBe(0);

    // a's capacity is lowered below what it holds (≈ 6 MiB): 3 MiB.
    const capGb = 3 / 1024;
    const second = await cfg([loc('a', { priority: 1, max_size_gb: capGb }), loc('b', { priority: 2 }), loc('c', { priority: 3 })]);
    const dry = await second.optimizeStorage({ dryRun: true });
    expect(dry.moves.length).toBeGreaterThan(0);
    expect(dry.moves.every((m) => m.from === 'a' && m.to.join() === 'c' && /over its capacity/.test(m.reason))).toBe(true);
    expect(await usage(second)).toEqual(before);

    const done = await second.optimizeStorage();
    expect(done.problems).toEqual([]);
    expect(done.moves.length).toBe(dry.moves.length);
    const after = await usage(second);
    expect(after.a).toBeLessThanOrEqual(capGb * 1024 ** 3);
    expect(after.a + after.c).toBe(before.a);
    for (const s of await second.getShardMap(b.backup_id)) expect(new Set(s.replicas.map((r) => r.location)).size).toBe(2);
    expect((await second.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
    expect((await second.optimizeStorage()).moves).toEqual([]);
  });
  it('reports a copy it could not delete, and stops relieving a location where deletes fail (append-only here)', async () => {
    const { t, cfg, loc, src, b } = await backedUpOnThree(11);
    const onA = async () => (await readdir(path.join(t.dir, 'a'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).length;
    const objectsBefore = await onA();

    // a becomes append-only (the backup process never deletes there) and too small for what it holds.
    const second = await cfg([loc('a', { priority: 1, max_size_gb: 3 / 1024, append_only: true }), loc('b', { priority: 2 }), loc('c', { priority: 3 })]);
    const done = await second.optimizeStorage();
    // One copy moved in the catalog, its object still on a and named as left behind; then the relief stopped.
    expect(done.moves).toHaveLength(1);
    expect(done.copies_added).toBe(1);
    expect(done.copies_removed).toBe(0);
    const moved = done.moves[0]!.shard_id;
    expect(done.problems).toHaveLength(2);
    expect(done.problems[0]).toContain(`${moved}: its copy on a is no longer in the catalog, but deleting it failed`);
    expect(done.problems[0]).toMatch(/append-only/);
    expect(done.problems[0]).toMatch(/storage gc/);
    expect(done.problems[1]).toMatch(/a holds .* over its capacity .*deleting there fails, so no more copies were moved off it/);
    expect(await onA()).toBe(objectsBefore);
    const map = await second.getShardMap(b.backup_id);
    expect(map.find((s) => s.shard_id === moved)!.replicas.map((r) => r.location).sort()).toEqual(['b', 'c']);
    // Nothing was lost: every shard still has its two copies, and the backup restores.
    for (const s of map) expect(new Set(s.replicas.map((r) => r.location)).size).toBe(2);
    const target = path.join(t.dir, 'restored');
    await second.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
  });

  it('never copies a damaged replica: the only source of a shard fails its checksum, so nothing is copied and the replica is marked bad', async () => {
    const { t, cfg, at } = await installation();
    const src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 11, smallFiles: 20, bigFiles: [1024 * 1024] });
    const first = await cfg([at('a', {}), at('b', {})]);
    const b = await first.createBackup({ paths: [src] });
    const victim = (await first.getShardMap(b.backup_id))[0]!.shard_id;
    // b is retired; a's copy of the victim is damaged (one flipped byte) and b's is gone.
    const file = path.join(t.dir, 'a', shardKey(victim));
    const bytes = await readFile(file);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0x01;
    await writeFile(file, bytes);
    await rm(path.join(t.dir, 'b', shardKey(victim)));
    const second = await cfg([at('a', {}), at('b', { enabled: false }), at('c', {})]);

    const done = await second.optimizeStorage();
    expect(done.problems.some((p) => p.includes(victim))).toBe(true);
    const map = await second.getShardMap(b.backup_id);
    const v = map.find((s) => s.shard_id === victim)!;
    expect(v.replicas.find((r) => r.location === 'c')).toBeUndefined();
    expect(v.replicas.find((r) => r.location === 'a')?.state).toBe('bad');
    // Every other shard was copied to c.
    expect(map.filter((s) => s.shard_id !== victim).every((s) => s.replicas.some((r) => r.location === 'c'))).toBe(true);
  });
});
