/**
 * storage gc collects shard rows no backup references — what failed, reaped and deleted backups leave —
 * with their objects, in two runs a grace period apart, and never a shard a backup reuses meanwhile.
 */
import { sql } from 'drizzle-orm';
import { readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { BackupEngine } from '../../server/engine/engine';
import type { OrphanSweepReport } from '../../server/engine/maintenance/orphan-report';
import { treeDiff } from '../support/compare';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const MiB = 1024 * 1024;
const LOCATIONS = ['a', 'b'];
const HOUR = 3_600_000;
const shardKeyOf = (id: string) => `data/${id.slice(0, 2)}/${id}`;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

describe.each(CATALOG_MODES)('storage gc: unreferenced shards (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  /** The engine's clock runs this far ahead of the real one: the grace period passes without sleeping. */
  let clockOffset = 0;
  let seed = 100;
  const root = (loc: string) => path.join(t.dir, 'storage', loc);
  const db = () => engine.catalog.db;

  async function tree(name: string, opts: { smallFiles?: number; bigFiles?: number[] } = {}): Promise<string> {
    const dir = path.join(t.dir, 'src', name);
    await makeTree(dir, { seed: seed++, smallFiles: opts.smallFiles ?? 40, bigFiles: opts.bigFiles ?? [MiB], empties: true });
    return dir;
  }

  async function shardIds(): Promise<Set<string>> {
    return new Set((await db().execute<{ id: string }>(sql`SELECT id FROM shards`)).rows.map((r) => r.id));
  }
  async function refsOf(backupId: string): Promise<Set<string>> {
    return new Set((await db().execute<{ shard_id: string }>(sql`SELECT shard_id FROM backup_shards WHERE backup_id = ${backupId}`)).rows.map((r) => r.shard_id));
  }
  /** Where the shard's object exists, and whether its row does. */
  async function where(id: string): Promise<{ row: boolean; on: string[] }> {
    const row = (await db().execute(sql`SELECT 1 FROM shards WHERE id = ${id}`)).rows.length > 0;
    const on: string[] = [];
    for (const loc of LOCATIONS) if (await stat(path.join(root(loc), shardKeyOf(id))).then(() => true, () => false)) on.push(loc);
    return { row, on };
  }
  async function objectBytes(ids: Iterable<string>): Promise<number> {
    let n = 0;
    for (const id of ids) for (const loc of LOCATIONS) n += (await stat(path.join(root(loc), shardKeyOf(id))).catch(() => ({ size: 0 }))).size;
    return n;
  }
  async function dataFiles(): Promise<string[]> {
    const out: string[] = [];
    for (const loc of LOCATIONS) {
      for (const e of await readdir(path.join(root(loc), 'data'), { recursive: true, withFileTypes: true })) if (e.isFile()) out.push(`${loc}/${e.name}`);
    }
    return out.sort();
  }
  async function markedRows(): Promise<number> {
    return Number((await db().execute<{ n: number }>(sql`SELECT count(*) AS n FROM shards WHERE gc_marked_at IS NOT NULL`)).rows[0]!.n);
  }
  async function settingsMark(): Promise<unknown> {
    return (await db().execute<{ value: unknown }>(sql`SELECT value FROM settings WHERE key = 'gc:orphans'`)).rows[0]?.value;
  }

  /** A backup that fails after recording every shard: its snapshot cannot be written anywhere. */
  async function failedBackup(paths: string[], minNew = 3): Promise<{ id: string; shards: Set<string> }> {
    const before = await shardIds();
    const restore = LOCATIONS.map((name) => {
      const backend = engine.locations.get(name)!.backend;
      const put = backend.put.bind(backend);
      backend.put = async (key: string, data: Buffer) => {
        if (key.startsWith('snapshots/')) throw new Error('simulated: snapshot write refused');
        return put(key, data);
      };
      return () => (backend.put = put);
    });
    let id = '';
    try {
      const started = await engine.startBackup({ paths, tags: ['doomed'] });
      id = started.backup_id;
      await expect(started.done).rejects.toThrow(/simulated/);
    } finally {
      restore.forEach((r) => r());
    }
    const row = (await db().execute<{ status: string }>(sql`SELECT status FROM backups WHERE id = ${id}`)).rows[0]!;
    expect(row.status).toBe('failed');
    expect((await refsOf(id)).size).toBe(0);
    const shards = new Set([...(await shardIds())].filter((s) => !before.has(s)));
    expect(shards.size).toBeGreaterThanOrEqual(minNew);
    return { id, shards };
  }

  async function restoresIdentically(backupId: string, src: string): Promise<void> {
    const v = await engine.verifyBackup(backupId, { readData: true });
    expect(v.status, JSON.stringify(v).slice(0, 1500)).toBe('healthy');
    const target = path.join(t.dir, 'restored', `${backupId}-${seed++}`);
    await engine.restoreBackup(backupId, { target });
    expect(await treeDiff(src, target)).toEqual([]);
  }

  /** Sweeps with no grace period until nothing is marked, so each test starts clean. */
  async function sweepAll(): Promise<OrphanSweepReport[]> {
    const out: OrphanSweepReport[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await engine.sweepOrphans({ graceHours: 0 });
      expect(r.problems).toEqual([]);
      out.push(r);
      if (!r.new_mark && r.totals.kept.objects === 0) return out;
    }
    throw new Error('still marked after 4 sweeps');
  }

  beforeAll(async () => {
    t = await makeEnv(mode);
    const storage_locations = LOCATIONS.map((name) => ({ name, type: 'local', path: root(name) }));
    await writeFile(t.env.PLEXICHAT_CONFIG!, JSON.stringify({ replication_factor: 2, shard_size: 262144, storage_locations }));
    engine = await BackupEngine.open(loadConfig(t.env), { log: () => undefined, now: () => new Date(Date.now() + clockOffset) });
  });
  afterAll(async () => {
    await engine?.close().catch(() => undefined);
    await t?.cleanup();
  });

  it("deletes a failed and a reaped backup's shards after the grace period, and keeps those a backup deduplicated onto meanwhile", async () => {
    const keptSrc = await tree('kept');
    const kept = await engine.createBackup({ paths: [keptSrc] });
    const keptShards = await refsOf(kept.backup_id);

    // F1 fails in backup-job (its references dropped there); F2 is reaped (its process died mid-run).
    const sharedSrc = await tree('shared');
    const f1 = await failedBackup([sharedSrc]);
    const reapedSrc = await tree('reaped');
    const f2 = await engine.createBackup({ paths: [reapedSrc] });
    const f2Shards = await refsOf(f2.backup_id);
    await db().execute(sql`UPDATE backups SET status = 'running', owner_pid = NULL, heartbeat_at = ${new Date(Date.now() - HOUR).toISOString()}::timestamptz WHERE id = ${f2.backup_id}`);
    const doomed = new Set([...f1.shards, ...f2Shards]);
    for (const id of doomed) expect(await where(id)).toEqual({ row: true, on: LOCATIONS });

    // Run 1 (default grace, 24 h) reaps F2 and marks both backups' shards; deletes nothing.
    const first = await engine.sweepOrphans();
    expect(first.problems).toEqual([]);
    expect((await engine.getBackup(f2.backup_id))?.status).toBe('failed');
    expect(first.shards.marked).toEqual({ shards: doomed.size, objects: doomed.size * 2, bytes: expect.any(Number) });
    expect(first.shards.deleted.shards).toBe(0);
    expect(first.new_mark).toMatchObject({ shards: doomed.size });
    expect(await markedRows()).toBe(doomed.size);
    expect(first.totals.marked.objects).toBe(doomed.size * 2);

    // During the grace period a backup of the same tree deduplicates onto F1's shards, while a gc runs.
    const [again, second] = await Promise.all([engine.createBackup({ paths: [sharedSrc] }), engine.sweepOrphans()]);
    const reused = new Set([...(await refsOf(again.backup_id))].filter((s) => f1.shards.has(s)));
    expect(reused.size).toBeGreaterThan(0); // the dedup really reused F1's data
    expect(second.previous_mark).toMatchObject({ state: 'grace_period', shards: doomed.size });
    expect(second.shards.deleted.shards).toBe(0);
    for (const id of doomed) expect((await where(id)).on).toEqual(LOCATIONS);

    // Past the grace period: run 2 of the mark deletes what is still unreferenced, and nothing else.
    clockOffset += 25 * HOUR;
    const gone = [...doomed].filter((id) => !reused.has(id));
    const goneBytes = await objectBytes(gone);
    const third = await engine.sweepOrphans();
    expect(third.problems).toEqual([]);
    expect(third.previous_mark).toMatchObject({ state: 'ripe' });
    expect(third.shards.deleted).toEqual({ shards: gone.length, objects: gone.length * 2, bytes: goneBytes });
    expect(third.totals.deleted).toEqual({ objects: gone.length * 2, bytes: goneBytes });
    expect(third.shards.objects_left).toBe(0);
    for (const id of gone) expect(await where(id)).toEqual({ row: false, on: [] });
    for (const id of reused) expect(await where(id)).toEqual({ row: true, on: LOCATIONS });
    for (const id of keptShards) expect(await where(id)).toEqual({ row: true, on: LOCATIONS });
    expect(f2Shards.size).toBeGreaterThan(0);
    for (const id of f2Shards) expect((await where(id)).row).toBe(false);

    await restoresIdentically(again.backup_id, sharedSrc);
    await restoresIdentically(kept.backup_id, keptSrc);
    await sweepAll();
    expect(await markedRows()).toBe(0);
    const audit = await db().execute<{ details: Record<string, number> }>(sql`SELECT details FROM audit_events WHERE action = 'storage.gc' ORDER BY id`);
    expect(audit.rows.some((r) => r.details.shards_deleted === gone.length)).toBe(true);
  });

  it('a backup that reaches a shard while the sweep holds its lock writes it anew; the old one is deleted', async () => {
    const src = await tree('raced');
    const failed = await failedBackup([src]);
    expect((await engine.sweepOrphans({ graceHours: 0 })).shards.marked.shards).toBe(failed.shards.size);

    const race: { backup?: Promise<{ backup_id: string }>; blocked?: boolean } = {};
    const r = await engine.sweepOrphans({
      graceHours: 0,
      hooks: {
        // Inside the delete's transaction, rows locked, references not yet re-checked: a backup of the same
        // tree starts and looks its content up. On PostgreSQL its dedup statement waits for the row lock
        // (seen in pg_stat_activity); the embedded catalog serves it after the commit.
        afterShardLock: async () => {
          race.backup ??= engine.createBackup({ paths: [src] });
          if (mode !== 'postgres') return void (await sleep(400));
          for (let i = 0; i < 100 && !race.blocked; i++) {
            const waiting = await db().execute<{ query: string }>(sql`
              SELECT query FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`);
            race.blocked = waiting.rows.some((w) => /gc_marked_at = NULL/.test(w.query));
            await sleep(50);
          }
        },
      },
    });
    expect(race.backup).toBeDefined();
    if (mode === 'postgres') expect(race.blocked, 'the dedup look-up waited for the sweep\'s row lock').toBe(true);
    const done = await race.backup!;
    expect(r.problems).toEqual([]);
    expect(r.shards.deleted.shards).toBe(failed.shards.size);
    for (const id of failed.shards) expect(await where(id)).toEqual({ row: false, on: [] });
    const refs = await refsOf(done.backup_id);
    expect([...refs].filter((id) => failed.shards.has(id))).toEqual([]);
    for (const id of refs) expect((await where(id)).on).toEqual(LOCATIONS);
    await restoresIdentically(done.backup_id, src);
    await sweepAll();
  });

  it('a shard reused and then dropped again waits for a new mark and a full grace period', async () => {
    const src = await tree('twice');
    const first = await failedBackup([src]);
    await engine.sweepOrphans({ graceHours: 0 }); // marks
    // Another backup of the same tree reuses the marked shards (clearing their mark), then fails too.
    const second = await failedBackup([src], 0);
    const marked = new Set((await db().execute<{ id: string }>(sql`SELECT id FROM shards WHERE gc_marked_at IS NOT NULL`)).rows.map((r) => r.id));
    const reused = [...first.shards].filter((id) => !marked.has(id));
    expect(reused.length).toBeGreaterThan(0);

    const ripe = await engine.sweepOrphans({ graceHours: 0 });
    expect(ripe.previous_mark?.state).toBe('ripe');
    expect(ripe.shards.deleted.shards).toBe(marked.size); // only rows still carrying the old mark
    expect(ripe.shards.marked.shards).toBe(reused.length + second.shards.size);
    for (const id of reused) expect((await where(id)).on).toEqual(LOCATIONS);

    const next = await engine.sweepOrphans({ graceHours: 0 });
    expect(next.shards.deleted.shards).toBe(reused.length + second.shards.size);
    for (const id of [...first.shards, ...second.shards]) expect(await where(id)).toEqual({ row: false, on: [] });
    await sweepAll();
  });

  it("a deleted backup's shards shared with a kept backup stay; rows a cut-short delete left are collected", async () => {
    const common = await tree('common', { bigFiles: [2 * MiB] });
    const extra = await tree('extra');
    const keep = await engine.createBackup({ paths: [common] });
    const keepShards = await refsOf(keep.backup_id);

    // An ordinary delete: the shared shards stay, the deleted backup's own ones go at once.
    const d1 = await engine.createBackup({ paths: [common, extra] });
    const d1Shards = await refsOf(d1.backup_id);
    const shared = [...d1Shards].filter((id) => keepShards.has(id));
    expect(shared.length).toBeGreaterThan(0);
    await engine.deleteBackup(d1.backup_id);
    for (const id of d1Shards) expect((await where(id)).row).toBe(keepShards.has(id));

    // A delete cut short after the backup's row was removed (the process died before collecting).
    const d2 = await engine.createBackup({ paths: [common, extra] });
    const d2Shards = await refsOf(d2.backup_id);
    const own = [...d2Shards].filter((id) => !keepShards.has(id));
    expect(own.length).toBeGreaterThan(0);
    await db().execute(sql`DELETE FROM backups WHERE id = ${d2.backup_id}`);

    const reports = await sweepAll();
    expect(reports.reduce((n, r) => n + r.shards.deleted.shards, 0)).toBe(own.length);
    for (const id of own) expect(await where(id)).toEqual({ row: false, on: [] });
    for (const id of keepShards) expect(await where(id)).toEqual({ row: true, on: LOCATIONS });
    await restoresIdentically(keep.backup_id, common);
  });

  it('a dry run reports what it would mark and delete, and changes nothing', async () => {
    const src = await tree('dry');
    const failed = await failedBackup([src]);
    const files = await dataFiles();
    const audits = async () => Number((await db().execute<{ n: number }>(sql`SELECT count(*) AS n FROM audit_events WHERE action = 'storage.gc'`)).rows[0]!.n);
    const auditCount = await audits();

    const dry = await engine.sweepOrphans({ dryRun: true, graceHours: 0 });
    expect(dry.shards.marked).toMatchObject({ shards: failed.shards.size, objects: failed.shards.size * 2 });
    expect(dry.new_mark).toMatchObject({ shards: failed.shards.size });
    expect(await markedRows()).toBe(0);
    expect(await settingsMark()).toBeUndefined();

    await engine.sweepOrphans({ graceHours: 0 }); // marks for real
    const mark = await settingsMark();
    const dry2 = await engine.sweepOrphans({ dryRun: true, graceHours: 0 });
    expect(dry2.previous_mark?.state).toBe('ripe');
    expect(dry2.shards.deleted).toMatchObject({ shards: failed.shards.size, objects: failed.shards.size * 2 });
    expect(dry2.shards.marked.shards).toBe(0);
    expect(await settingsMark()).toEqual(mark);
    expect(await markedRows()).toBe(failed.shards.size);
    expect(await dataFiles()).toEqual(files);
    for (const id of failed.shards) expect(await where(id)).toEqual({ row: true, on: LOCATIONS });
    expect(await audits()).toBe(auditCount + 1); // the real run only

    const real = await engine.sweepOrphans({ graceHours: 0 });
    expect(real.shards.deleted.shards).toBe(failed.shards.size);
    for (const id of failed.shards) expect(await where(id)).toEqual({ row: false, on: [] });
  });
});
