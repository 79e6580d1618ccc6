/**
 * The console pages through a backup's files from a cached list (restore/file-list-cache.ts), not by reading
 * its manifest again for every page — and the cache changes nothing else: a replaced manifest is read
 * again, a deleted backup is gone, and every call is still authorized and audited before the cache is
 * looked at (real catalog, real backups, real storage).
 */
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TRPCError } from '@trpc/server';
import { and, eq, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditEvents, type Role } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import { LocalBackend } from '../../server/engine/storage/local';
import { createCallerFactory } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import type { Services } from '../../server/trpc/services/types';
import { makeEnv, type TestEnv } from '../support/engine-env';

let t: TestEnv;
let engine: BackupEngine;
const ids: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };

const unused = async (): Promise<never> => {
  throw new Error('not used by these procedures');
};
const caller = (user: { email: string; role: Role } | null) => {
  const services: Services = { engine: async () => engine, users: unused, audit: unused };
  return createCallerFactory(appRouter)({ user: user && { id: user.email, name: null, ...user }, services });
};
const pathsOf = (r: { entries: { path: string }[] }) => r.entries.map((e) => e.path);

async function manifestOf(id: string): Promise<{ keyId: string; files: string[] }> {
  const [r] = (await engine.catalog.db.execute<{ key_id: string; files: string[] }>(sql`SELECT key_id, manifest_shards -> 'files' AS files FROM backups WHERE id = ${id}`)).rows;
  return { keyId: r!.key_id, files: r!.files };
}

/** Every stored object (at every location) of these shards. */
async function objectsOf(shardIds: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const e of await readdir(t.dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile() && shardIds.some((id) => e.name.startsWith(id))) found.push(path.join(e.parentPath, e.name));
  }
  return found;
}

beforeAll(async () => {
  t = await makeEnv('embedded');
  engine = await t.open();
  for (const [name, files] of [['a', 12], ['b', 5], ['c', 30]] as const) {
    const src = path.join(t.dir, `src-${name}`);
    await mkdir(path.join(src, 'Docs'), { recursive: true });
    for (let i = 0; i < files; i++) await writeFile(path.join(src, i % 3 ? `${name}-${i}.txt` : path.join('Docs', `${name.toUpperCase()}-Note-${i}.md`)), `${name} ${i} `.repeat(50 + i));
    ids[name] = (await engine.createBackup({ paths: [src] })).backup_id;
  }
}, 120_000);
afterAll(async () => t?.cleanup());

describe('the cached file list of a backup', () => {
  it('pages and filters without reading the manifest again', async () => {
    const id = ids.c;
    const whole = await engine.listBackupFiles(id, { limit: 500 });
    expect(engine.fileLists.has(id)).toBe(true);
    const { files } = await manifestOf(id);
    const objects = await objectsOf(files);
    expect(objects.length).toBeGreaterThanOrEqual(files.length);
    await Promise.all(objects.map((o) => rm(o)));
    // Another process (no cache) cannot read the manifest any more; this one pages and filters from its cache.
    const fresh = await t.open();
    await expect(fresh.listBackupFiles(id, { limit: 5 })).rejects.toThrow(/shard|replica|missing|read/i);
    const page = await engine.listBackupFiles(id, { limit: 7, offset: 7 });
    expect(page).toEqual({ entries: whole.entries.slice(7, 14), total: whole.total });
    const notes = await engine.listBackupFiles(id, { filter: ' docs/c-NOTE ', limit: 3, offset: 1 });
    const allNotes = whole.entries.filter((e) => e.path.toLowerCase().includes('docs/c-note'));
    expect(allNotes.length).toBe(10);
    expect(notes).toEqual({ entries: allNotes.slice(1, 4), total: 10 });
  });

  it('reads a backup again when its manifest changed', async () => {
    const before = await engine.listBackupFiles(ids.a, { limit: 500 });
    expect(before.total).toBeGreaterThan(12);
    expect(engine.fileLists.has(ids.a)).toBe(true);
    // The catalog now names another manifest for the backup (as a catalog rebuilt from storage could).
    const b = await manifestOf(ids.b);
    await engine.catalog.db.execute(sql`UPDATE backups SET manifest_shards = jsonb_set(manifest_shards, '{files}', ${JSON.stringify(b.files)}::jsonb), key_id = ${b.keyId} WHERE id = ${ids.a}`);
    const after = await engine.listBackupFiles(ids.a, { limit: 500 });
    expect(pathsOf(after)).toEqual(pathsOf(await engine.listBackupFiles(ids.b, { limit: 500 })));
    expect(pathsOf(after).some((p) => p.includes('a-1.txt'))).toBe(false);
  });

  it('forgets a deleted backup, which is then not found', async () => {
    await engine.listBackupFiles(ids.b, { limit: 1 });
    expect(engine.fileLists.has(ids.b)).toBe(true);
    await engine.deleteBackup(ids.b, { force: true });
    expect(engine.fileLists.has(ids.b)).toBe(false);
    await expect(engine.listBackupFiles(ids.b, { limit: 1 })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(caller({ email: 'admin@x.io', role: 'admin' }).backup.files({ backupId: ids.b })).rejects.toMatchObject({ cause: { code: 'NOT_FOUND' } });
  });

  it('reads a manifest once for requests that arrive together (a search box typing), each answered for itself', async () => {
    const src = path.join(t.dir, 'src-d');
    await mkdir(path.join(src, 'Docs'), { recursive: true });
    for (let i = 0; i < 40; i++) await writeFile(path.join(src, i % 4 ? `d-${i}.txt` : path.join('Docs', `D-${i}.md`)), `d ${i} `.repeat(40 + i));
    const id = (await engine.createBackup({ paths: [src] })).backup_id;
    const fresh = await t.open(); // a cold cache
    const { files } = await manifestOf(id);
    const reads = vi.spyOn(LocalBackend.prototype, 'get'); // counts the real reads, changes nothing
    try {
      const manifestReads = () => reads.mock.calls.filter(([key]) => files.some((f) => String(key).includes(f))).length;
      await t.open().then((one) => one.listBackupFiles(id, { limit: 500 }));
      const once = manifestReads();
      expect(once).toBeGreaterThan(0);
      reads.mockClear();
      const filters = ['', 'd', 'do', 'doc', 'docs', 'docs/c'];
      const pages = await Promise.all(filters.map((filter) => fresh.listBackupFiles(id, { filter, limit: 500 })));
      expect(manifestReads()).toBe(once);
      const whole = pages[0]!;
      filters.forEach((f, i) => expect(pathsOf(pages[i]!)).toEqual(pathsOf(whole).filter((p) => p.toLowerCase().includes(f))));
    } finally {
      reads.mockRestore();
    }
  });

  it('is read only after the caller was allowed and the key use audited', async () => {
    const id = ids.c;
    const admin = caller({ email: 'admin@x.io', role: 'admin' });
    expect((await admin.backup.files({ backupId: id, limit: 2 })).total).toBe(30 + 1); // and the Docs folder
    expect(engine.fileLists.has(id)).toBe(true);
    await expect(caller(null).backup.files({ backupId: id })).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    // Every role of the matrix may view; a session whose role is not in it (one since removed) may not.
    const refused = await caller({ email: 'old@x.io', role: 'auditor' as Role }).backup.files({ backupId: id }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(TRPCError);
    expect(refused).toMatchObject({ code: 'FORBIDDEN' });
    // A viewer's first page comes from the cache, and is still audited as the viewer's use of the key.
    const keyUses = () => engine.catalog.db.select({ id: auditEvents.id }).from(auditEvents).where(and(eq(auditEvents.action, 'key.use'), eq(auditEvents.actor, 'viewer@x.io')));
    expect(await keyUses()).toHaveLength(0);
    expect((await caller({ email: 'viewer@x.io', role: 'viewer' }).backup.files({ backupId: id, limit: 2 })).total).toBe(31);
    expect(await keyUses()).toHaveLength(1);
  });
});
