/**
 * A catalog rebuild over a catalog that still knows some shards. A backup whose row was lost while its shards
 * stayed, unreferenced and marked by storage gc: the imported backup references them again, and — as a
 * backup's own reuse of a shard does — that clears their gc mark, so a later sweep cannot take them on the
 * old mark. A known backup whose replica rows at one location were lost: the copies listed there get their
 * rows back, and a row the catalog still has keeps its state.
 */
import { sql } from 'drizzle-orm';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const MODE = process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded';

describe('recover-catalog over shards the catalog knows', () => {
  const envs: TestEnv[] = [];
  afterAll(async () => Promise.all(envs.map((e) => e.cleanup())));

  it('shards marked unreferenced lose their mark when an imported backup references them', async () => {
    const a = await makeEnv(MODE);
    envs.push(a);
    const src = path.join(a.dir, 'src');
    await makeTree(src, { seed: 7, smallFiles: 30, bigFiles: [600_000] });
    const engine = await a.open();
    const made = await engine.createBackup({ paths: [src] });
    const db = engine.catalog.db;
    const count = async (q: ReturnType<typeof sql>) => (await db.execute<{ n: number }>(q)).rows[0]!.n;
    const shards = await count(sql`SELECT count(*)::int AS n FROM backup_shards WHERE backup_id = ${made.backup_id}`);
    expect(shards).toBeGreaterThan(2);

    // The backup's row is lost (its shards stay), and storage gc's mark reaches every shard.
    await db.execute(sql`DELETE FROM backups WHERE id = ${made.backup_id}`);
    await db.execute(sql`UPDATE shards s SET gc_marked_at = now() - interval '2 days' WHERE NOT EXISTS (SELECT 1 FROM backup_shards b WHERE b.shard_id = s.id)`);
    expect(await count(sql`SELECT count(*)::int AS n FROM shards WHERE gc_marked_at IS NOT NULL`)).toBe(shards);

    const r = await engine.rebuildCatalog({ skipCatalogSnapshot: true });
    expect(r).toMatchObject({ backups: 1, skipped_backups: [], damaged_backups: [] });
    expect(await count(sql`SELECT count(*)::int AS n FROM backup_shards WHERE backup_id = ${made.backup_id}`)).toBe(shards);
    expect(await count(sql`SELECT count(*)::int AS n FROM shards WHERE gc_marked_at IS NOT NULL`)).toBe(0);
    await engine.close();
  }, 300_000);

  it('a known backup gets back the replica rows of copies its location still holds; a bad row stays bad', async () => {
    const a = await makeEnv(MODE);
    envs.push(a);
    const src = path.join(a.dir, 'src');
    await makeTree(src, { seed: 8, smallFiles: 30, bigFiles: [600_000] });
    const engine = await a.open();
    const made = await engine.createBackup({ paths: [src] });
    const db = engine.catalog.db;
    const rows = async () =>
      (await db.execute<{ shard_id: string; location: string; state: string }>(sql`
        SELECT r.shard_id, r.location, r.state FROM shard_replicas r JOIN backup_shards b ON b.shard_id = r.shard_id
        WHERE b.backup_id = ${made.backup_id} ORDER BY r.shard_id, r.location`)).rows;
    const before = await rows();
    const [lostAt, badAt] = [...new Set(before.map((r) => r.location))].sort();
    expect(badAt).toBeDefined();
    await db.execute(sql`DELETE FROM shard_replicas WHERE location = ${lostAt!}`);
    const bad = before.find((r) => r.location === badAt)!.shard_id;
    await db.execute(sql`UPDATE shard_replicas SET state = 'bad' WHERE shard_id = ${bad} AND location = ${badAt!}`);

    const r = await engine.rebuildCatalog({ skipCatalogSnapshot: true });
    expect(r).toMatchObject({ backups: 0, skipped_backups: [] });
    expect(await rows()).toEqual(before.map((x) => (x.shard_id === bad && x.location === badAt ? { ...x, state: 'bad' } : x)));
    await engine.close();
  }, 300_000);
});
