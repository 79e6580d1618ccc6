import { readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { treeDiff } from '../support/compare';
import { runCli } from '../support/cli';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const MiB = 1024 * 1024;

async function shardFile(storageRoot: string, location: string, shardId: string): Promise<string> {
  return path.join(storageRoot, location, 'data', shardId.slice(0, 2), shardId);
}

describe.each(CATALOG_MODES)('damage, verify and repair (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let src: string;

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 42, smallFiles: 300, bigFiles: [6 * MiB, 3 * MiB] });
  });
  afterAll(async () => t?.cleanup());

  it('a flipped byte in one replica: degraded, named; restore still works; repair makes it healthy', async () => {
    const b = await engine.createBackup({ paths: [src] });
    const map = await engine.getShardMap(b.backup_id);
    const victim = map.find((s) => s.kind === 'data' && s.stored_size > MiB)!;
    const loc = victim.replicas[0]!.location;
    const file = await shardFile(t.config.storage_root, loc, victim.shard_id);
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    await writeFile(file, bytes);

    const v = await engine.verifyBackup(b.backup_id);
    expect(v.status).toBe('degraded');
    expect(v.all_shards_valid).toBe(false);
    expect(v.bad_shards).toEqual([expect.objectContaining({ shard_id: victim.shard_id, location: loc, problem: 'checksum_mismatch', message: `Shard checksum mismatch for ${victim.shard_id} at ${loc}` })]);

    const target = path.join(t.dir, 'r-degraded');
    await engine.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);

    const r = await engine.repairBackup(b.backup_id);
    expect(r.repaired).toEqual([{ shard_id: victim.shard_id, location: loc }]);
    expect(r.status).toBe('healthy');
    expect((await engine.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
  });

  it('every replica of one shard gone: corrupted; restore fails naming the file and writes no short file', async () => {
    const b = await engine.createBackup({ paths: [src], tags: ['lost'] });
    const map = await engine.getShardMap(b.backup_id);
    // The shard that holds the start of big-1.bin (3 MiB, after the 6 MiB file).
    const victim = map.filter((s) => s.kind === 'data').sort((a, z) => z.plain_size - a.plain_size)[0]!;
    for (const r of victim.replicas) await rm(await shardFile(t.config.storage_root, r.location, victim.shard_id));

    const v = await engine.verifyBackup(b.backup_id);
    expect(v.status).toBe('corrupted');
    expect(v.lost_shards).toContain(victim.shard_id);
    expect(v.affected_files.length).toBeGreaterThan(0);

    const target = path.join(t.dir, 'r-lost');
    const res = await runCli(['restore', b.backup_id, '--target', target], t.env);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/Missing required shards/);
    for (const f of v.affected_files) {
      expect(res.stderr).toContain(f);
      await expect(readFile(path.join(target, f))).rejects.toThrow(/ENOENT/);
    }
    // Files that do not touch the lost shard are restored intact.
    const restored = await readdir(target, { recursive: true });
    expect(restored.length).toBeGreaterThan(100);

    const cliVerify = await runCli(['verify', b.backup_id, '--json'], t.env);
    expect(cliVerify.code).toBe(3);
    expect((cliVerify.json as { status: string }).status).toBe('corrupted');
  });

  it('every replica of one shard longer than the catalog says (bytes appended): the restore reads each whole and refuses it', async () => {
    // A restore reads local shards into a buffer of the catalog's size (batch-read.ts): bytes past it must
    // still be read and judged, never silently left off.
    const b = await engine.createBackup({ paths: [src], tags: ['grown'] });
    const map = await engine.getShardMap(b.backup_id);
    const victim = map.filter((s) => s.kind === 'data').sort((a, z) => z.plain_size - a.plain_size)[0]!;
    for (const r of victim.replicas) {
      const file = await shardFile(t.config.storage_root, r.location, victim.shard_id);
      await writeFile(file, Buffer.concat([await readFile(file), Buffer.from('appended by someone else')]));
    }
    const target = path.join(t.dir, 'r-grown');
    const res = await runCli(['restore', b.backup_id, '--target', target], t.env);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/Missing required shards/);
    expect(res.stderr).toContain(victim.shard_id);
    const states = (await engine.getShardMap(b.backup_id)).find((s) => s.shard_id === victim.shard_id)!.replicas.map((r) => r.state);
    expect(states).toEqual(victim.replicas.map(() => 'bad'));
  });

  it('a backup marked interrupted while it still runs (stalled heartbeat) never becomes completed', async () => {
    const big = path.join(t.dir, 'big');
    await makeTree(big, { seed: 7, smallFiles: 10, bigFiles: [40 * MiB] });
    const { backup_id: id, done } = await engine.startBackup({ paths: [big] });
    // What reapInterrupted does to a backup whose heartbeat is older than 20 s, done while it runs. A new
    // backup is `pending` until the queue starts it, so wait for `running` (the 40 MiB take far longer than a
    // poll) and check the update hit it: otherwise the test would race the backup to completion.
    let reaped = 0;
    for (let i = 0; i < 500 && reaped === 0; i++) {
      const r = await engine.catalog.db.execute(sql`UPDATE backups SET status = 'failed', error = 'interrupted' WHERE id = ${id} AND status = 'running' RETURNING id`);
      reaped = r.rows.length;
      if (reaped === 0) await new Promise((res) => setTimeout(res, 10));
    }
    expect(reaped).toBe(1);
    await engine.catalog.db.execute(sql`DELETE FROM backup_shards WHERE backup_id = ${id}`);
    await expect(done).rejects.toThrow(/was marked interrupted while it was still running.*run the backup again/);
    expect(await engine.getBackup(id)).toMatchObject({ status: 'failed' });
    for (const loc of await readdir(t.config.storage_root)) {
      expect(await readdir(path.join(t.config.storage_root, loc, 'snapshots')).catch(() => [])).not.toContain(id);
    }
    await rm(big, { recursive: true });
  });

  it('a different master key is refused with a clear message', async () => {
    const res = await runCli(['list', '--json'], { ...t.env, PLEXICHAT_ENCRYPTION_KEY: 'ab'.repeat(32) });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/master key does not open this repository/);
    expect((res.json as { error: { message: string } }).error.message).toMatch(/PLEXICHAT_ENCRYPTION_KEY/);
  });
});
