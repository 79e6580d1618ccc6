/**
 * Erasure coding across locations (2+1 over three local locations): what it stores, and a restore, verify,
 * repair and catalog recovery with one location's directory gone. Real engine, real catalog, real files.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pieceKey } from '../../server/engine/repository/repository';
import { treeDiff } from '../support/compare';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const MODE = process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded';
const envs: TestEnv[] = [];
let src: string;

beforeAll(async () => {
  const t = await makeEnv('embedded');
  envs.push(t);
  src = path.join(t.dir, 'src');
  await makeTree(src, { seed: 12, smallFiles: 120, bigFiles: [3 * 1024 * 1024, 700 * 1024] });
});
afterAll(async () => {
  // Newest first: engines close before the folder holding their locations goes.
  for (const e of envs.reverse()) await e.cleanup();
});

/** Bytes of every object under data/ in a local location's folder. */
async function dataBytes(dir: string): Promise<number> {
  let total = 0;
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else total += (await stat(p)).size;
    }
  };
  await walk(path.join(dir, 'data'));
  return total;
}

async function installation(names = ['ec-a', 'ec-b', 'ec-c']) {
  const root = await mkdtemp(path.join(tmpdir(), 'pxec-'));
  envs.push({ cleanup: () => rm(root, { recursive: true, force: true }) } as TestEnv);
  const dirs = names.map((n) => path.join(root, n));
  const locations = dirs.map((p, i) => ({ name: path.basename(p), type: 'local', path: p, priority: 10 + i }));
  const t = await makeEnv(MODE, { shard_size: 262144, erasure_coding: { data_shards: 2, parity_shards: 1 }, storage_locations: locations });
  envs.push(t);
  return { t, dirs, locations, engine: await t.open() };
}

describe(`erasure coding 2+1 over three local locations (${MODE} catalog)`, () => {
  it('stores each shard as three pieces on three locations, ≤ 1.7× one copy, and restores with one location gone', async () => {
    const { t, dirs, engine } = await installation();
    const b = await engine.createBackup({ paths: [src] });
    expect(b.status).toBe('completed');
    const map = await engine.getShardMap(b.backup_id);
    for (const s of map) {
      expect(s.replicas.map((r) => r.piece).sort()).toEqual([0, 1, 2]);
      expect(new Set(s.replicas.map((r) => r.location)).size).toBe(3);
    }
    const oneCopy = map.reduce((n, s) => n + s.stored_size, 0);
    const stored = (await Promise.all(dirs.map(dataBytes))).reduce((a, x) => a + x, 0);
    expect(stored / oneCopy).toBeGreaterThan(1.45);
    expect(stored / oneCopy).toBeLessThanOrEqual(1.7);
    // Storage usage per location counts the pieces there, not whole copies.
    const usage = await engine.getStorageUsage();
    for (const [i, dir] of dirs.entries()) {
      const used = usage.find((u) => u.name === `ec-${'abc'[i]}`)!.used_bytes;
      expect(Math.abs(used - (await dataBytes(dir))) / used).toBeLessThan(0.01);
    }

    // The location with the data pieces of most shards (priority first) disappears entirely.
    await rm(dirs[0]!, { recursive: true, force: true });
    const target = path.join(t.dir, 'restore-without-a');
    await engine.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);

    // Verify names every piece that was on ec-a; nothing is lost.
    const v = await engine.verifyBackup(b.backup_id);
    expect(v.status).toBe('degraded');
    expect(v.lost_shards).toEqual([]);
    const atA = map.flatMap((s) => s.replicas.filter((r) => r.location === 'ec-a').map((r) => ({ shard_id: s.shard_id, location: 'ec-a', piece: r.piece, problem: 'missing' })));
    expect(atA.length).toBe(map.length);
    expect(v.bad_shards).toEqual(atA.map((x) => expect.objectContaining({ ...x, message: `Piece ${x.piece} of shard ${x.shard_id} is missing at ec-a` })).sort());
    expect(v.bad_shards).toHaveLength(map.length);

    // The lost disk is replaced by an empty one (the engine opens it as a new, empty location); repair
    // re-creates the pieces from the two others; verify --read-data rebuilds and decrypts every shard.
    await engine.close();
    const again = await t.open();
    const r = await again.repairBackup(b.backup_id);
    expect(r.unrepairable).toEqual([]);
    expect(r.repaired).toHaveLength(map.length);
    const named = (x: { shard_id: string; location: string; piece?: number | null }) => `${x.shard_id} ${x.location} ${x.piece}`;
    expect(new Set(r.repaired.map(named))).toEqual(new Set(atA.map(named))); // each lost piece, named by its number
    expect(r.status).toBe('healthy');
    expect(await dataBytes(dirs[0]!)).toBeGreaterThan(0);
    const full = await again.verifyBackup(b.backup_id, { readData: true });
    expect([full.status, full.bad_shards]).toEqual(['healthy', []]);
  });

  it('verify --read-data finds a piece forged with a valid piece checksum, and repair replaces it', async () => {
    const { engine } = await installation();
    const b = await engine.createBackup({ paths: [src] });
    const victim = (await engine.getShardMap(b.backup_id)).find((s) => s.kind === 'data')!;
    const at = victim.replicas.find((r) => r.piece === 2)!; // parity: the cheapest read never touches it
    const backend = engine.locations.get(at.location)!.backend;
    const key = pieceKey(victim.shard_id, { k: 2, m: 1 }, 2);
    const piece = await backend.get(key);
    const headLen = piece.length - Math.ceil(victim.stored_size / 2) - 32;
    const payload = Buffer.from(piece.subarray(headLen + 32));
    payload[0]! ^= 0xff;
    const head = piece.subarray(0, headLen);
    await backend.put(key, Buffer.concat([head, createHash('sha256').update(head).update(payload).digest(), payload]));

    expect((await engine.verifyBackup(b.backup_id)).status).toBe('healthy'); // its own checksum is valid
    const v = await engine.verifyBackup(b.backup_id, { readData: true });
    expect(v.status).toBe('degraded');
    expect(v.bad_shards).toEqual([expect.objectContaining({ shard_id: victim.shard_id, location: at.location, piece: 2, problem: 'checksum_mismatch', message: expect.stringMatching(/does not match the object the other pieces rebuild/) })]);
    expect((await engine.repairBackup(b.backup_id)).repaired).toEqual([{ shard_id: victim.shard_id, location: at.location, piece: 2 }]);
    expect((await engine.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
  });

  it('recover-catalog from the two surviving locations alone rebuilds the backup, which restores byte-identical', async () => {
    const { t, dirs, locations, engine } = await installation();
    const b = await engine.createBackup({ paths: [src] });
    const shards = (await engine.getShardMap(b.backup_id)).length;
    await engine.close();
    await rm(dirs[0]!, { recursive: true, force: true });

    // A new installation over what is left: an empty catalog, the same master key, the two surviving locations
    // (too few for 2+1 coding of new backups, so it writes replicas; reading coded shards needs no setting).
    const fresh = await makeEnv(MODE, { shard_size: 262144, storage_locations: locations.slice(1) }, { PLEXICHAT_ENCRYPTION_KEY: t.env.PLEXICHAT_ENCRYPTION_KEY });
    envs.push(fresh);
    const other = await fresh.open();
    const rec = await other.rebuildCatalog();
    expect(rec).toMatchObject({ backups: 1, skipped_backups: [], damaged_objects: [] });
    expect(rec.damaged_backups).toEqual([expect.objectContaining({ backup_id: b.backup_id, status: 'degraded', lost_shards: [] })]);
    expect(rec.damaged_backups[0]!.under_replicated).toHaveLength(shards);

    const map = await other.getShardMap(b.backup_id);
    expect(map).toHaveLength(shards);
    for (const s of map) {
      expect(s.coding).toEqual({ k: 2, m: 1 });
      expect(s.replicas.map((r) => r.location).sort()).toEqual(['ec-b', 'ec-c']);
    }
    const target = path.join(fresh.dir, 'restored');
    await other.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
    const v = await other.verifyBackup(b.backup_id, { readData: true });
    expect(v.status).toBe('degraded');
    expect(v.lost_shards).toEqual([]);
    expect(v.bad_shards.every((x) => x.location === '*' && x.problem === 'missing' && /is on no location/.test(x.message))).toBe(true);
  });

  it('storage optimize moves the pieces off a retired location to one holding no piece of the shard', async () => {
    const { t, dirs, locations, engine } = await installation(['ec-a', 'ec-b', 'ec-c', 'ec-d']);
    const b = await engine.createBackup({ paths: [src] });
    const before = await engine.getShardMap(b.backup_id);
    const onA = before.filter((s) => s.replicas.some((r) => r.location === 'ec-a'));
    expect(onA.length).toBeGreaterThan(0);
    await engine.close();

    await writeFile(t.env.PLEXICHAT_CONFIG!, JSON.stringify({ shard_size: 262144, erasure_coding: { data_shards: 2, parity_shards: 1 }, storage_locations: locations.map((l) => (l.name === 'ec-a' ? { ...l, enabled: false } : l)) }));
    const again = await t.open();
    const dry = await again.optimizeStorage({ dryRun: true });
    expect(dry.moves.filter((m) => m.from === 'ec-a')).toHaveLength(onA.length);
    const report = await again.optimizeStorage();
    expect(report.problems).toEqual([]);
    expect(report.moves.filter((m) => m.from === 'ec-a')).toHaveLength(onA.length);
    const after = await again.getShardMap(b.backup_id);
    for (const s of after) {
      expect(s.replicas.map((r) => r.location)).not.toContain('ec-a');
      expect(s.replicas.map((r) => r.piece).sort()).toEqual([0, 1, 2]);
      expect(new Set(s.replicas.map((r) => r.location)).size).toBe(3);
    }
    expect(await dataBytes(dirs[0]!)).toBe(0);
    expect((await again.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
    expect((await again.optimizeStorage()).moves).toEqual([]);
  });

  it('with two of three locations gone, verify says corrupted and restore names the shard it cannot rebuild', async () => {
    const { t, dirs, engine } = await installation();
    const b = await engine.createBackup({ paths: [src] });
    await rm(dirs[0]!, { recursive: true, force: true });
    await rm(dirs[2]!, { recursive: true, force: true });
    const v = await engine.verifyBackup(b.backup_id);
    expect(v.status).toBe('corrupted');
    expect(v.lost_shards.length).toBeGreaterThan(0);
    await expect(engine.restoreBackup(b.backup_id, { target: path.join(t.dir, 'r2') })).rejects.toThrow(/has 1 readable piece\(s\) of the 2 needed/);
  });
});
