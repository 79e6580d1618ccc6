/**
 * The console's paged tables sort on the server, over every row and not the page shown: for each paged
 * procedure (backups, a backup's files, its shard map, restores, the audit log), page 1 sorted descending
 * holds the global maximum, the pages together are a total order (every row once, in order, ties broken),
 * a sort key outside the procedure's allow-list is a 400, and sorting keeps the query's scope (filters, the
 * collapsed continuous backups, the role matrix). Real catalog (PostgreSQL with TEST_DATABASE_URL), real
 * backups and storage.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import { createCallerFactory } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import { auditApi } from '../../server/trpc/services/live';
import type { Services } from '../../server/trpc/services/types';
import { makeEnv, type TestEnv } from '../support/engine-env';

const MODE = process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded';
let t: TestEnv;
let engine: BackupEngine;
let real = '';

const unused = async (): Promise<never> => {
  throw new Error('not used by these procedures');
};
const caller = (role: Role = 'admin') => {
  const services: Services = { engine: async () => engine, users: unused, audit: async () => auditApi(engine.catalog.db) };
  return createCallerFactory(appRouter)({ user: { id: role, email: `${role}@x.io`, name: null, role }, services });
};

/** Every page in turn, `limit` rows at a time, until the total. */
async function pageThrough<R>(limit: number, fetch: (offset: number) => Promise<{ rows: R[]; total: number }>): Promise<{ rows: R[]; total: number; pages: number }> {
  const rows: R[] = [];
  let total = 0;
  let pages = 0;
  for (let offset = 0; pages === 0 || offset < total; offset += limit) {
    const p = await fetch(offset);
    total = p.total;
    rows.push(...p.rows);
    pages++;
  }
  return { rows, total, pages };
}

type Key = string | number | null;
/** Non-increasing (or non-decreasing) by `key`, ties broken by `id` the same way; nulls (no value) last. */
function expectTotalOrder<R>(rows: R[], key: (r: R) => Key, id: (r: R) => string, dir: 'asc' | 'desc') {
  expect(new Set(rows.map(id)).size).toBe(rows.length);
  const sign = dir === 'asc' ? 1 : -1;
  for (let i = 1; i < rows.length; i++) {
    const [a, b] = [key(rows[i - 1]!), key(rows[i]!)];
    if (a === null || b === null) {
      expect(a !== null || b === null, `${id(rows[i - 1]!)} (no value) before ${id(rows[i]!)}`).toBe(true);
      continue;
    }
    const c = a < b ? -1 : a > b ? 1 : id(rows[i - 1]!) < id(rows[i]!) ? -1 : 1;
    expect(sign * c, `${id(rows[i - 1]!)} (${a}) before ${id(rows[i]!)} (${b}) sorted ${dir}`).toBeLessThan(0);
  }
}

const badRequest = { code: 'BAD_REQUEST' };

beforeAll(async () => {
  t = await makeEnv(MODE, { shard_size: 256 * 1024 });
  engine = await t.open();
  // A real backup: 45 files of random sizes (so many shards of 256 KiB), 6 of the same size (ties), a folder.
  const src = path.join(t.dir, 'src');
  await mkdir(path.join(src, 'sub'), { recursive: true });
  for (let i = 0; i < 45; i++) await writeFile(path.join(src, i % 5 ? `f${i}.bin` : path.join('sub', `s${i}.bin`)), randomBytes(i < 6 ? 1000 : 1500 + ((i * 7919) % 60) * 4096));
  real = (await engine.createBackup({ paths: [src] })).backup_id;

  const db = engine.catalog.db;
  // 80 backups with sizes in ties of 3; the continuous ones of set /c hide their older ones, however large.
  await db.execute(sql`
    INSERT INTO backups (id, status, backup_type, security_level, retention_days, original_size, file_count, duration_ms, sources, created_at)
    SELECT 'b' || lpad(i::text, 3, '0'), CASE WHEN i % 4 = 0 THEN 'failed' ELSE 'completed' END, 'full', 'standard', 30, (i / 3) * 1000, i % 7, i * 10,
      '["/b"]'::jsonb, now() - i * interval '1 minute'
    FROM generate_series(1, 80) i
    UNION ALL SELECT 'c' || i, 'completed', 'continuous', 'standard', 30, CASE WHEN i = 3 THEN 1 ELSE 10000000 END, 1, 1, '["/c"]'::jsonb, now() - (10 - i) * interval '1 second'
    FROM generate_series(1, 3) i`);
  // 70 restores: three actors, durations with ties, the queued ones without one.
  await db.execute(sql`
    INSERT INTO restore_jobs (id, backup_id, status, actor, via, target, duration_ms, created_at)
    SELECT 'r' || lpad(i::text, 3, '0'), CASE WHEN i % 2 = 0 THEN ${real} ELSE 'b001' END, CASE WHEN i % 10 = 0 THEN 'queued' ELSE 'completed' END,
      'user' || (i % 3) || '@x.io', 'console', '/tmp/r' || i, CASE WHEN i % 10 = 0 THEN NULL ELSE (i % 9) * 100 END, now() - i * interval '1 minute'
    FROM generate_series(1, 70) i`);
  // 120 audit events: actors in ties, some without a target.
  await db.execute(sql`
    INSERT INTO audit_events (at, actor, action, target, outcome)
    SELECT now() - i * interval '1 second', 'actor' || (i % 4) || '@x.io', 'test.sort', CASE WHEN i % 5 = 0 THEN NULL ELSE 't' || (i % 11) END, 'success'
    FROM generate_series(1, 120) i`);
}, 180_000);
afterAll(async () => t?.cleanup());

describe(`server-side sorting of paged tables (${MODE} catalog)`, () => {
  it('backups: page 1 by size descending holds the largest; the pages are a total order; continuous backups stay collapsed', async () => {
    const admin = caller();
    const all = await admin.backup.list({ limit: 200 });
    const largest = Math.max(...all.items.map((b) => b.original_size));
    const first = await admin.backup.list({ sort: { key: 'size', dir: 'desc' }, limit: 10 });
    expect(first.items[0]!.original_size).toBe(largest);
    // The older continuous backups (10 MB each) are not in the list, sorted or not.
    expect(first.items.map((b) => b.backup_id)).not.toContain('c1');
    for (const dir of ['desc', 'asc'] as const) {
      const paged = await pageThrough(10, async (offset) => {
        const p = await admin.backup.list({ sort: { key: 'size', dir }, limit: 10, offset });
        return { rows: p.items, total: p.total };
      });
      expect(paged.pages).toBeGreaterThan(1);
      expect(paged.rows).toHaveLength(all.total);
      expect(new Set(paged.rows.map((b) => b.backup_id))).toEqual(new Set(all.items.map((b) => b.backup_id)));
      expectTotalOrder(paged.rows, (b) => b.original_size, (b) => b.backup_id, dir);
    }
    // With a filter: only failed backups, still over every page of them.
    const failed = await pageThrough(7, async (offset) => {
      const p = await admin.backup.list({ status: 'failed', sort: { key: 'duration', dir: 'desc' }, limit: 7, offset });
      return { rows: p.items, total: p.total };
    });
    expect(failed.rows.length).toBe(20);
    expect(failed.rows.every((b) => b.status === 'failed')).toBe(true);
    expect(failed.rows[0]!.backup_id).toBe('b080');
    expectTotalOrder(failed.rows, (b) => b.duration_seconds, (b) => b.backup_id, 'desc');
  });

  it("a backup's files: sorted over the whole manifest, read from storage or from the cached list alike", async () => {
    const admin = caller('operator');
    const whole = await engine.listBackupFiles(real, { limit: 500 });
    const biggest = Math.max(...whole.entries.map((e) => e.size));
    for (const cached of [false, true]) {
      if (!cached) engine.fileLists.drop(real);
      const first = await admin.backup.files({ backupId: real, sort: { key: 'size', dir: 'desc' }, limit: 10 });
      expect(engine.fileLists.has(real)).toBe(true);
      expect(first.entries[0]!.size).toBe(biggest);
      for (const dir of ['desc', 'asc'] as const) {
        const paged = await pageThrough(10, async (offset) => {
          if (!cached) engine.fileLists.drop(real);
          const p = await admin.backup.files({ backupId: real, sort: { key: 'size', dir }, limit: 10, offset });
          return { rows: p.entries, total: p.total };
        });
        expect(paged.pages).toBeGreaterThan(3);
        expect(paged.rows).toHaveLength(whole.total);
        expectTotalOrder(paged.rows, (e) => e.size, (e) => e.path, dir);
      }
    }
    // With a filter: only the files under sub/, by path descending.
    const sub = await admin.backup.files({ backupId: real, filter: '/sub/', sort: { key: 'path', dir: 'desc' }, limit: 500 });
    const expected = whole.entries.filter((e) => e.path.toLowerCase().includes('/sub/')).map((e) => e.path);
    expect(sub.entries.map((e) => e.path)).toEqual([...expected].sort().reverse());
    expect(sub.total).toBe(expected.length);
  });

  it("a backup's shard map: page 1 by stored size descending holds the largest shard; the pages are a total order", async () => {
    const viewer = caller('viewer');
    const all = await viewer.backup.shardMap({ backupId: real, limit: 2000 });
    expect(all.total).toBeGreaterThan(6);
    const largest = Math.max(...all.shards.map((s) => s.stored_size));
    expect((await viewer.backup.shardMap({ backupId: real, sort: { key: 'stored', dir: 'desc' }, limit: 3 })).shards[0]!.stored_size).toBe(largest);
    for (const dir of ['desc', 'asc'] as const) {
      const paged = await pageThrough(3, async (offset) => {
        const p = await viewer.backup.shardMap({ backupId: real, sort: { key: 'stored', dir }, limit: 3, offset });
        return { rows: p.shards, total: p.total };
      });
      expect(paged.rows).toHaveLength(all.total);
      expectTotalOrder(paged.rows, (s) => s.stored_size, (s) => s.shard_id, dir);
    }
  });

  it('restores: page 1 by duration descending holds the longest; unfinished ones last; the pages are a total order', async () => {
    const operator = caller('operator');
    const r = await engine.catalog.db.execute<{ id: string; d: number | null }>(sql`SELECT id, duration_ms AS d FROM restore_jobs`);
    const durations = new Map(r.rows.map((x) => [x.id, x.d === null ? null : Number(x.d)]));
    const d = (id: string) => durations.get(id) ?? null;
    const longest = Math.max(...[...durations.values()].filter((x) => x !== null));
    const first = await operator.restores.list({ sort: { key: 'duration', dir: 'desc' }, limit: 10 });
    expect(d(first.jobs[0]!.restore_id)).toBe(longest);
    for (const dir of ['desc', 'asc'] as const) {
      const paged = await pageThrough(10, async (offset) => {
        const p = await operator.restores.list({ sort: { key: 'duration', dir }, limit: 10, offset });
        return { rows: p.jobs, total: p.total };
      });
      expect(paged.rows).toHaveLength(70);
      expectTotalOrder(paged.rows, (j) => d(j.restore_id), (j) => j.restore_id, dir);
      expect(d(paged.rows.at(-1)!.restore_id)).toBeNull();
    }
    // The restores of one backup only, by who asked.
    const one = await pageThrough(6, async (offset) => {
      const p = await operator.restores.list({ backupId: real, sort: { key: 'who', dir: 'asc' }, limit: 6, offset });
      return { rows: p.jobs, total: p.total };
    });
    expect(one.rows).toHaveLength(35);
    expect(one.rows.every((j) => j.backup_id === real)).toBe(true);
    expectTotalOrder(one.rows, (j) => j.actor, (j) => j.restore_id, 'asc');
  });

  it('the audit log: page 1 by actor descending holds the greatest; the pages are a total order; a filter still holds', async () => {
    const admin = caller('admin');
    const first = await admin.audit.list({ action: 'test.', sort: { key: 'actor', dir: 'desc' }, limit: 50 });
    expect(first.events[0]!.actor).toBe('actor3@x.io');
    for (const dir of ['desc', 'asc'] as const) {
      const paged = await pageThrough(50, async (offset) => {
        const p = await admin.audit.list({ action: 'test.', sort: { key: 'target', dir }, limit: 50, offset });
        return { rows: p.events, total: p.total };
      });
      expect(paged.rows).toHaveLength(120);
      expect(paged.rows.every((e) => e.action === 'test.sort')).toBe(true);
      // The id breaks ties: compare as fixed-width text so it orders like the number.
      expectTotalOrder(paged.rows, (e) => e.target, (e) => String(e.id).padStart(12, '0'), dir);
      expect(paged.rows.at(-1)!.target).toBeNull();
    }
  });

  it('refuses a sort key outside the allow-list, and a column name or SQL in its place', async () => {
    const admin = caller();
    const bad = ['original_size', 'created_at; DROP TABLE backups', 'id', ''];
    for (const key of bad) {
      await expect(admin.backup.list({ sort: { key: key as 'size', dir: 'desc' } })).rejects.toMatchObject(badRequest);
      await expect(admin.backup.files({ backupId: real, sort: { key: key as 'size', dir: 'desc' } })).rejects.toMatchObject(badRequest);
      await expect(admin.backup.shardMap({ backupId: real, sort: { key: key as 'size', dir: 'desc' } })).rejects.toMatchObject(badRequest);
      await expect(admin.restores.list({ sort: { key: key as 'who', dir: 'desc' } })).rejects.toMatchObject(badRequest);
      await expect(admin.audit.list({ sort: { key: key as 'at', dir: 'desc' } })).rejects.toMatchObject(badRequest);
    }
    await expect(admin.backup.list({ sort: { key: 'size', dir: 'down' as 'desc' } })).rejects.toMatchObject(badRequest);
    await expect(admin.backup.list({ sort: { key: 'size', dir: 'desc', column: 'original_size' } as never })).rejects.toMatchObject(badRequest);
    await expect(admin.backup.list({ sort: { key: 'size', dir: 'desc' }, limit: 1 })).resolves.toMatchObject({ items: [{ backup_id: expect.any(String) }] });
  });

  it("an operator's or viewer's sort reveals nothing outside the role's grant", async () => {
    for (const role of ['operator', 'viewer'] as const) {
      // The audit log is admins' (read_audit): refused, sorted or not, before any row is read.
      await expect(caller(role).audit.list({ sort: { key: 'actor', dir: 'desc' } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
      // What a viewer may list is the same rows an admin sees in that list, in the same order.
      const mine = await caller(role).backup.list({ sort: { key: 'size', dir: 'desc' }, limit: 200 });
      const admins = await caller('admin').backup.list({ sort: { key: 'size', dir: 'desc' }, limit: 200 });
      expect(mine.items.map((b) => b.backup_id)).toEqual(admins.items.map((b) => b.backup_id));
      expect(mine.items.map((b) => b.backup_id)).not.toContain('c1');
    }
    // A session whose role the matrix does not know lists nothing.
    await expect(caller('auditor' as Role).backup.list({ sort: { key: 'size', dir: 'desc' } })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
