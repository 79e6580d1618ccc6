/**
 * A rebuild that tells the truth, and a verify that walks the manifest: the catalog is lost and one shard has
 * lost every copy (another one of two copies); recover-catalog names both backups and exits 3, verify says
 * corrupted and degraded, an undamaged backup still verifies with --read-data, and the stored sizes are real.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import type { RecoverReport } from '../../server/engine/maintenance/recover-catalog';
import type { BackupStatistics, LocationUsage, VerifyResult } from '../../server/engine/types';
import { runCli } from '../support/cli';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const MODE = process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded';

const shardFile = (root: string, loc: string, id: string) => path.join(root, loc, 'data', id.slice(0, 2), id);

describe('rebuild and verify tell the truth', () => {
  const envs: TestEnv[] = [];
  afterAll(async () => Promise.all(envs.map((e) => e.cleanup())));

  it('catalog lost + every replica of one shard gone: named, exit 3, corrupted; one copy left: degraded', async () => {
    const a = await makeEnv(MODE);
    envs.push(a);
    const trees = ['lost', 'thin', 'fine'].map((n) => path.join(a.dir, n));
    for (const [i, t] of trees.entries()) await makeTree(t, { seed: 100 + i, smallFiles: 40, bigFiles: [1_500_000] });
    const engine = await a.open();
    const made = [];
    for (const t of trees) made.push(await engine.createBackup({ paths: [t] }));
    const victim = async (id: string) => (await engine.getShardMap(id)).filter((s) => s.kind === 'data').sort((x, y) => y.stored_size - x.stored_size)[0]!;
    const gone = await victim(made[0]!.backup_id);
    const half = await victim(made[1]!.backup_id);
    await engine.close();
    const root = a.config.storage_root;
    for (const r of gone.replicas) await rm(shardFile(root, r.location, gone.shard_id));
    await rm(shardFile(root, half.replicas[0]!.location, half.shard_id));

    const locations = ['local-a', 'local-b'].map((name) => ({ name, type: 'local', path: path.join(root, name) }));
    const b = await makeEnv(MODE, { storage_locations: locations }, { PLEXICHAT_ENCRYPTION_KEY: a.env.PLEXICHAT_ENCRYPTION_KEY });
    envs.push(b);
    const rec = await runCli(['recover-catalog', '--json'], b.env);
    expect(rec.code, rec.stderr).toBe(3);
    const r = rec.json as RecoverReport;
    expect(r.backups).toBe(3);
    // Sorted by id, which starts with the creation time.
    expect(r.damaged_backups).toEqual([
      expect.objectContaining({ backup_id: made[0]!.backup_id, status: 'corrupted', lost_shards: [gone.shard_id] }),
      expect.objectContaining({ backup_id: made[1]!.backup_id, status: 'degraded', under_replicated: [half.shard_id] }),
    ]);
    const text = await runCli(['recover-catalog'], b.env);
    expect(text.code).toBe(0); // nothing new to import the second time

    const v1 = await runCli(['verify', made[0]!.backup_id, '--json'], b.env);
    expect(v1.code).toBe(3);
    expect((v1.json as VerifyResult).status).toBe('corrupted');
    expect((v1.json as VerifyResult).lost_shards).toContain(gone.shard_id);
    expect(((await runCli(['verify', made[1]!.backup_id, '--json'], b.env)).json as VerifyResult).status).toBe('degraded');
    const v3 = await runCli(['verify', made[2]!.backup_id, '--read-data', '--json'], b.env);
    expect(v3.code, v3.stderr).toBe(0);
    expect((v3.json as VerifyResult).status).toBe('healthy');

    // Real stored sizes, from the listings.
    const stats = (await runCli(['stats', '--json'], b.env)).json as BackupStatistics;
    expect(stats.total_stored_bytes).toBeGreaterThan(3_000_000);
    const usage = (await runCli(['storage', 'usage', '--json'], b.env)).json as LocationUsage[];
    for (const u of usage) expect(u.used_bytes).toBeGreaterThan(1_000_000);
    const eng = await b.open();
    const zero = await eng.catalog.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM shards WHERE stored_size = 0`);
    expect(zero.rows[0]!.n).toBe(0);
  });

  it('a shard the manifest references but the catalog lacks makes verify say corrupted', async () => {
    const t = await makeEnv(MODE);
    envs.push(t);
    const src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 9, smallFiles: 20, bigFiles: [1_200_000] });
    const engine = await t.open();
    const bk = await engine.createBackup({ paths: [src] });
    const data = (await engine.getShardMap(bk.backup_id)).filter((s) => s.kind === 'data');
    const id = data[0]!.shard_id;
    await engine.catalog.db.execute(sql`DELETE FROM backup_shards WHERE shard_id = ${id}`);
    await engine.catalog.db.execute(sql`DELETE FROM shards WHERE id = ${id}`);
    const v = await engine.verifyBackup(bk.backup_id);
    expect(v.status).toBe('corrupted');
    expect(v.lost_shards).toEqual([id]);
    expect(v.affected_files.length).toBeGreaterThan(0);
  });
});
