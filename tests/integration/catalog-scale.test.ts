/**
 * The list and the console's pages stay bounded however many backups and shards there are (issue 13; the
 * figures are bench/catalog-scale.ts's, not these tests'): the backup list returns a page and a total, the
 * CLI `list` prints a page and says how many more there are, the dashboard's figures come from aggregate
 * SQL over every backup of the last days (not from the newest 1000 rows), and the shard and storage totals
 * come from counters the catalog keeps — checked against a recount after backups, a rebuilt shard's new
 * size and a delete.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { FOLD_ABOVE, usageTotals } from '../../server/engine/catalog/usage-totals';
import { createCallerFactory } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import type { Services } from '../../server/trpc/services/types';
import { runCli } from '../support/cli';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

const unused = async (): Promise<never> => {
  throw new Error('not used by these procedures');
};

describe.each(CATALOG_MODES)('bounded lists and pages (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  const real: string[] = [];
  const caller = () => {
    const services: Services = { engine: async () => engine, users: unused, audit: unused };
    return createCallerFactory(appRouter)({ user: { id: 'v', email: 'viewer@x.io', name: null, role: 'viewer' }, services });
  };
  /** The totals the old queries computed: a join over every shard and replica. */
  const recount = async () => {
    const db = engine.catalog.db;
    const [s] = (await db.execute<{ n: number; bytes: number }>(sql`SELECT count(*)::int AS n, COALESCE(sum(stored_size), 0)::bigint AS bytes FROM shards`)).rows;
    const locs = await db.execute<{ location: string; n: number; bytes: number }>(sql`
      SELECT r.location, count(*)::int AS n, sum(s.stored_size)::bigint AS bytes FROM shard_replicas r JOIN shards s ON s.id = r.shard_id GROUP BY r.location ORDER BY 1`);
    return { shards: { objects: Number(s!.n), bytes: Number(s!.bytes) }, locations: Object.fromEntries(locs.rows.map((r) => [r.location, { objects: Number(r.n), bytes: Number(r.bytes) }])) };
  };
  const totals = async () => {
    const u = await usageTotals(engine.catalog.db);
    return { shards: u.shards, locations: Object.fromEntries([...u.locations].sort(([a], [b]) => a.localeCompare(b))) };
  };

  beforeAll(async () => {
    t = await makeEnv(mode);
    const store = (name: string) => ({ name, type: 'local', path: path.join(t.dir, name) });
    await writeFile(path.join(t.dir, 'config.json'), JSON.stringify({ storage_locations: [store('primary'), store('secondary')], replication_factor: 2 }));
    engine = await t.open();
    for (const name of ['a', 'b']) {
      const src = path.join(t.dir, `src-${name}`);
      await mkdir(src, { recursive: true });
      for (let i = 0; i < 20; i++) await writeFile(path.join(src, `f${i}.txt`), `${name} ${i} `.repeat(2000 + i));
      real.push((await engine.createBackup({ paths: [src], tags: ['real'] })).backup_id);
    }
    // 1,500 completed backups in the last 24 h (one a minute), 30 failed 3 days ago, 10 completed 20 days ago.
    await engine.catalog.db.execute(sql`
      INSERT INTO backups (id, status, backup_type, security_level, retention_days, original_size, throughput_mbps, created_at, completed_at)
      SELECT 'bulk_' || i, 'completed', 'full', 'standard', 30, 1000, 5, now() - i * interval '55 seconds' - interval '1 hour', now() - i * interval '55 seconds' - interval '1 hour' + interval '10 seconds'
      FROM generate_series(1, 1500) i
      UNION ALL SELECT 'failed_' || i, 'failed', 'full', 'standard', 30, 0, 0, now() - interval '3 days' - i * interval '1 minute', NULL FROM generate_series(1, 30) i
      UNION ALL SELECT 'old_' || i, 'completed', 'full', 'standard', 30, 1000, 5, now() - interval '20 days' - i * interval '1 minute', now() - interval '20 days' FROM generate_series(1, 10) i`);
  }, 300_000);
  afterAll(async () => t?.cleanup());

  it('the backup list procedure returns one page and the total, newest first', async () => {
    const page = await caller().backup.list({ limit: 25, offset: 0 });
    expect(page.items).toHaveLength(25);
    expect(page.total).toBe(1542);
    expect(page.items.slice(0, 2).map((b) => b.backup_id).sort()).toEqual([...real].sort());
    const created = page.items.map((b) => b.created_at);
    expect(created).toEqual([...created].sort().reverse());
    const last = await caller().backup.list({ limit: 25, offset: 1525 });
    // Newest first: the 2 real ones, bulk_1 … bulk_1500, failed_1 … failed_30, old_1 … old_10.
    expect(last.items.map((b) => b.backup_id)).toEqual([...Array.from({ length: 7 }, (_, i) => `failed_${24 + i}`), ...Array.from({ length: 10 }, (_, i) => `old_${1 + i}`)]);
  });

  it('CLI list prints the newest 50 and says how many more; --all prints every one', async () => {
    const text = await runCli(['list'], t.env);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(51);
    expect(lines[50]).toBe('… 1492 more (newest first; --offset 50 for the next 50, --all for every one)');
    const paged = await runCli(['list', '--limit', '10', '--offset', '1535', '--json'], t.env);
    expect((paged.json as { backup_id: string }[]).map((b) => b.backup_id)).toEqual(['old_4', 'old_5', 'old_6', 'old_7', 'old_8', 'old_9', 'old_10']);
    const all = await runCli(['list', '--all', '--json'], t.env);
    expect(all.code, all.stderr).toBe(0);
    expect(all.json).toHaveLength(1542);
    const both = await runCli(['list', '--all', '--limit', '5'], t.env);
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/--all lists every backup; leave out --limit/);
  }, 120_000);

  it('the dashboard counts every backup of the last days by aggregate SQL, not the newest 1000 rows', async () => {
    const s = await caller().stats.get();
    expect(s.last24h).toMatchObject({ total: 1502, completed: 1502, failed: 0, success_rate: 1 });
    expect(s.last7d).toMatchObject({ total: 1532, completed: 1502, failed: 30 });
    expect(s.perDay).toHaveLength(14);
    expect(s.perDay.reduce((n, d) => n + d.completed, 0)).toBe(1502);
    expect(s.perDay.reduce((n, d) => n + d.failed, 0)).toBe(30);
    // The throughput chart: the newest 1000 completed backups of the 14 days, oldest first.
    expect(s.throughput).toHaveLength(1000);
    expect(s.throughput.map((p) => p.at)).toEqual(s.throughput.map((p) => p.at).sort());
    expect(s.throughput.at(-1)!.backup_id).toBe(real[1]);
    expect(s.recent.map((b) => b.backup_id)).toEqual([real[1], real[0], 'bulk_1', 'bulk_2', 'bulk_3', 'bulk_4', 'bulk_5', 'bulk_6']);
    expect(s.statistics).toMatchObject({ total_backups: 1542, completed_backups: 1512 });
  });

  it('shard and storage totals come from the catalog counters and match a recount', async () => {
    const counted = await recount();
    expect(counted.shards.objects).toBeGreaterThan(0);
    expect(Object.keys(counted.locations)).toEqual(['primary', 'secondary']);
    expect(await totals()).toEqual(counted);
    const stats = await caller().stats.get();
    expect(stats.statistics).toMatchObject({ unique_shards: counted.shards.objects, total_stored_bytes: counted.shards.bytes });
    const usage = await caller().storage.usage();
    expect(usage.map((u) => [u.name, u.objects, u.used_bytes])).toEqual(Object.entries(counted.locations).map(([n, v]) => [n, v.objects, v.bytes]));
    // The two real backups have their manifests at both locations (the bulk rows have none).
    expect(usage.map((u) => u.backups)).toEqual([2, 2]);

    // A rebuilt shard written at another size (shard-rebuild.ts updates stored_size).
    await engine.catalog.db.execute(sql`UPDATE shards SET stored_size = stored_size + 1000 WHERE id = (SELECT min(id) FROM shards)`);
    expect(await totals()).toEqual(await recount());

    // Deleting a backup deletes the shards only it referenced, and their replicas.
    await engine.deleteBackup(real[0]!);
    const after = await recount();
    expect(after.shards.objects).toBeLessThan(counted.shards.objects);
    expect(await totals()).toEqual(after);
    expect((await caller().storage.usage()).map((u) => u.backups)).toEqual([1, 1]);

    // Many small writes leave many rows: a read folds them into one per location, with the same totals.
    await engine.catalog.db.execute(sql`
      INSERT INTO usage_deltas (location, objects, bytes) SELECT 'primary', CASE WHEN i % 2 = 0 THEN 1 ELSE -1 END, CASE WHEN i % 2 = 0 THEN 10 ELSE -10 END
      FROM generate_series(1, ${FOLD_ABOVE + 100}) i`);
    expect(await totals()).toEqual(after);
    const [rows] = (await engine.catalog.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM usage_deltas`)).rows;
    expect(rows!.n).toBeLessThanOrEqual(3);
    expect(await totals()).toEqual(after);
  }, 120_000);
});
