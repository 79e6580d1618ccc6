/**
 * A catalog rebuild that finds a backup whose shards the catalog still has, unreferenced and marked by
 * storage gc (the backup's row was lost): the imported backup references them again, and — as a backup's
 * own reuse of a shard does — that clears their gc mark, so a later sweep cannot take them on the old mark.
 */
import { sql } from 'drizzle-orm';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const MODE = process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded';

describe('recover-catalog and the gc mark', () => {
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
});
