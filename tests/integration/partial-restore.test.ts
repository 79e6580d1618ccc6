/**
 * Partial shard loss (issue 11): restore --allow-partial restores every file whose chunks are readable and
 * names exactly the files whose extents touch a lost shard; below minimum_shard_threshold it refuses (exit
 * 3); repair_missing_shards re-creates a lost shard from the source or from a later backup's copy.
 */
import { readFile, readdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getBackupRow } from '../../server/engine/catalog/catalog';
import { readChunkTable } from '../../server/engine/repository/chunk-table';
import type { EngineContext } from '../../server/engine/context';
import type { BackupEngine } from '../../server/engine/engine';
import { parseEntry } from '../../server/engine/repository/manifest';
import { ShardReader } from '../../server/engine/restore/shard-reader';
import type { SecurityLevel } from '../../server/engine/types';
import { treeDiff } from '../support/compare';
import { runCli } from '../support/cli';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const KiB = 1024;
type Report = { restored: { path: string; bytes: number }[]; lost: { path: string; bytes: number; shards: string[] }[]; readable_fraction: number };
type ErrorDoc = { error: { code: string; message: string; readable_fraction?: number; files_restored?: number; lost?: unknown[] } };

describe.each(CATALOG_MODES)('partial shard loss (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;

  beforeAll(async () => {
    t = await makeEnv(mode, { shard_size: 256 * KiB });
    engine = await t.open();
  });
  afterAll(async () => t?.cleanup());

  /** The backup's files and, per data shard, the files whose extents touch it — read from the manifest. */
  async function manifestView(id: string) {
    const ctx = (engine as unknown as { ctx: EngineContext }).ctx;
    const row = (await getBackupRow(ctx.db, id))!;
    const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel);
    const { files, chunks } = row.manifestShards;
    await reader.load([...files, ...chunks]);
    const table = await readChunkTable(reader.lines(chunks));
    const all = new Map<string, number>();
    const byShard = new Map<string, Set<string>>();
    for await (const line of reader.lines(files)) {
      const e = parseEntry(line);
      if (e.t !== 'f') continue;
      all.set(e.p, e.s ?? 0);
      for (const [k] of e.x ?? []) {
        const set = byShard.get(table[k]!) ?? new Set<string>();
        set.add(e.p);
        byShard.set(table[k]!, set);
      }
    }
    return { all, byShard, dataShards: [...new Set(table)] };
  }

  async function loseShard(id: string, shardId: string) {
    const map = await engine.getShardMap(id);
    const s = map.find((x) => x.shard_id === shardId)!;
    for (const r of s.replicas) await rm(path.join(t.config.storage_root, r.location, 'data', shardId.slice(0, 2), shardId));
  }

  /** A shard packed with many small files, some of which also lie in a neighbouring shard. */
  function smallFileShard(view: Awaited<ReturnType<typeof manifestView>>): string {
    return [...view.byShard.entries()].sort((a, b) => b[1].size - a[1].size)[0]![0];
  }

  it('restores every readable file byte-identical and names exactly the lost ones; without --allow-partial says how much it restored; below the threshold refuses', async () => {
    const src = path.join(t.dir, 'src-a');
    await makeTree(src, { seed: 11, smallFiles: 1200, smallMax: 3000, bigFiles: [900 * KiB, 700 * KiB] });
    const b = await engine.createBackup({ paths: [src] });
    const view = await manifestView(b.backup_id);
    const victim = smallFileShard(view);
    const expectedLost = [...view.byShard.get(victim)!].sort();
    expect(expectedLost.length).toBeGreaterThan(20);
    await loseShard(b.backup_id, victim);

    const target = path.join(t.dir, 'r-partial');
    const res = await runCli(['restore', b.backup_id, '--target', target, '--allow-partial', '--skip-shard-repair', '--json'], t.env);
    expect(res.code, res.stderr).toBe(3);
    const rep = res.json as Report;
    expect(rep.lost.map((f) => f.path).sort()).toEqual(expectedLost);
    for (const f of rep.lost) {
      expect(f.shards).toEqual([victim]);
      expect(f.bytes).toBe(view.all.get(f.path));
    }
    const n = view.dataShards.length;
    expect(rep.readable_fraction).toBeCloseTo((n - 1) / n, 3);
    const expectedRestored = [...view.all.keys()].filter((p) => !expectedLost.includes(p)).sort();
    expect(rep.restored.map((f) => f.path).sort()).toEqual(expectedRestored);
    for (const p of expectedRestored) expect((await readFile(path.join(target, p))).equals(await readFile(path.join(src, p))), p).toBe(true);
    for (const p of expectedLost) await expect(readFile(path.join(target, p))).rejects.toThrow(/ENOENT/);

    // Without --allow-partial: the same files restored, and the error says how much.
    const plain = path.join(t.dir, 'r-plain');
    const res2 = await runCli(['restore', b.backup_id, '--target', plain, '--json'], t.env);
    expect(res2.code).toBe(3);
    const err = (res2.json as ErrorDoc).error;
    expect(err.message).toContain(`Restored ${expectedRestored.length} file(s)`);
    expect(err.message).toContain(expectedLost[0]);
    expect(err.files_restored).toBe(expectedRestored.length);
    expect((await readdir(plain, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).length).toBe(expectedRestored.length);

    // Below the threshold: refused before anything is written, naming the readable fraction.
    const strict = path.join(t.dir, 'r-strict');
    const res3 = await runCli(['restore', b.backup_id, '--target', strict, '--allow-partial', '--skip-shard-repair', '--min-shard-threshold', '0.99', '--json'], t.env);
    expect(res3.code).toBe(3);
    const e3 = (res3.json as ErrorDoc).error;
    expect(e3.code).toBe('INTEGRITY');
    expect(e3.readable_fraction).toBeCloseTo((n - 1) / n, 3);
    expect(e3.message).toMatch(new RegExp(`only [0-9.]+% of the shards it needs are readable \\(${n - 1} of ${n}\\), below the minimum shard threshold of 99%`));
    expect(await readdir(strict).catch(() => [])).toEqual([]);

    // The default threshold (0.8): lose shards until fewer than 80 % are readable.
    const more = view.dataShards.filter((s) => s !== victim).slice(0, Math.ceil(n * 0.2));
    for (const s of more) await loseShard(b.backup_id, s);
    const res4 = await runCli(['restore', b.backup_id, '--target', path.join(t.dir, 'r-default'), '--allow-partial', '--skip-shard-repair', '--json'], t.env);
    expect(res4.code).toBe(3);
    expect((res4.json as ErrorDoc).error.message).toMatch(/below the minimum shard threshold of 80%/);
  });

  it('repair re-creates a lost shard from the source that still holds its content', async () => {
    const src = path.join(t.dir, 'src-b');
    await makeTree(src, { seed: 22, smallFiles: 400, smallMax: 3000, bigFiles: [600 * KiB] });
    const b = await engine.createBackup({ paths: [src] });
    const victim = smallFileShard(await manifestView(b.backup_id));
    await loseShard(b.backup_id, victim);
    expect((await engine.verifyBackup(b.backup_id)).lost_shards).toEqual([victim]);

    const res = await runCli(['repair', b.backup_id, '--json'], t.env);
    expect(res.code, res.stderr).toBe(0);
    const r = res.json as { repaired: { shard_id: string }[]; unrepairable: string[]; status: string };
    expect(r.repaired.map((x) => x.shard_id)).toContain(victim);
    expect(r.unrepairable).toEqual([]);
    expect(r.status).toBe('healthy');
    expect((await engine.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
    const target = path.join(t.dir, 'r-src');
    await engine.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
  });

  it('repair (and a partial restore) re-create a lost shard from a later backup holding the same content', async () => {
    const src = path.join(t.dir, 'src-c');
    await makeTree(src, { seed: 33, smallFiles: 400, smallMax: 3000, bigFiles: [600 * KiB] });
    const b = await engine.createBackup({ paths: [src] });
    const victim = smallFileShard(await manifestView(b.backup_id));
    await loseShard(b.backup_id, victim);
    expect((await engine.verifyBackup(b.backup_id)).status).toBe('corrupted'); // marks the replicas missing: no dedup onto it
    const later = await engine.createBackup({ paths: [src] });
    const laterIds = (await engine.getShardMap(later.backup_id)).map((s) => s.shard_id);
    const cid = victim.slice(0, victim.lastIndexOf('-'));
    expect(laterIds.some((id) => id !== victim && id.startsWith(`${cid}-`))).toBe(true);
    const moved = path.join(t.dir, 'src-c-moved'); // the source cannot help any more
    await rename(src, moved);

    // A partial restore re-creates it first (repair_missing_shards), so nothing is lost.
    const target = path.join(t.dir, 'r-later');
    const res = await runCli(['restore', b.backup_id, '--target', target, '--allow-partial', '--json'], t.env);
    expect(res.code, res.stderr).toBe(0);
    expect(res.json).toMatchObject({ lost: [], readable_fraction: 1, recreated_shards: [victim] });
    expect(await treeDiff(moved, target)).toEqual([]);

    // Lost again: repair re-creates it the same way.
    await loseShard(b.backup_id, victim);
    const r = await engine.repairBackup(b.backup_id);
    expect(r.repaired.map((x) => x.shard_id)).toContain(victim);
    expect(r.status).toBe('healthy');
    const target2 = path.join(t.dir, 'r-later-2');
    await engine.restoreBackup(b.backup_id, { target: target2 });
    expect(await treeDiff(moved, target2)).toEqual([]);
  });
});
