/**
 * The path policy for console and API requests (server/engine/path-policy.ts), through the tRPC caller with
 * a real engine: operators back up only under allowed_backup_paths and restore only under
 * allowed_restore_paths, never overwriting; nobody backs up or restores into the installation's own files
 * (data dir, keys, auth secret, catalog, storage locations), nor a parent of them; symlinks and ".." do not get
 * around it; schedules are checked when saved and again when they run; every refusal is audited.
 */
import { mkdir, readdir, readFile, rename, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { TRPCError } from '@trpc/server';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureEmbeddedServer } from '../../db/client';
import { auditEvents, type Role } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import { LocationStore } from '../../server/engine/storage/location-store';
import { PathPolicy } from '../../server/engine/path-policy';
import { createSchedule } from '../../server/jobs/schedule-store';
import { ScheduleWorker } from '../../server/jobs/worker';
import { mapError, shapeFor } from '../../server/trpc/errors';
import { createCallerFactory } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import type { Services } from '../../server/trpc/services/types';
import { makeEnv, type TestEnv } from '../support/engine-env';

let t: TestEnv;
let engine: BackupEngine;
let dataDir: string;
let allowed: string;
let restoreRoot: string;
let outside: string;
let consoleStore: string;

const unused = async (): Promise<never> => {
  throw new Error('not used by these procedures');
};
function caller(role: Role) {
  const services: Services = { engine: async () => engine, users: unused, audit: unused };
  return createCallerFactory(appRouter)({ user: { id: `id-${role}`, email: `${role}@x.io`, name: null, role }, services });
}

/** The caller surfaces engine errors as their cause; the HTTP error formatter maps FORBIDDEN to 403 (checked below). */
const refused = (rule: RegExp | string) => ({ cause: { code: 'FORBIDDEN', message: expect.stringMatching(rule) as unknown } });

async function completed(backupId: string) {
  for (let i = 0; i < 1200; i++) {
    const b = await engine.getBackup(backupId);
    if (b && b.status !== 'running' && b.status !== 'pending') return b;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the backup did not finish');
}

async function restored(restoreId: string) {
  for (let i = 0; i < 1200; i++) {
    const job = await caller('operator').backup.restoreProgress({ restoreId });
    if (job.status !== 'running' && job.status !== 'queued') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the restore did not finish');
}

async function denials(action: string) {
  return engine.catalog.db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.action, action), eq(auditEvents.outcome, 'denied')));
}

beforeAll(async () => {
  t = await makeEnv('embedded');
  dataDir = path.join(t.dir, 'data');
  allowed = path.join(t.dir, 'allowed');
  restoreRoot = path.join(t.dir, 'restore-root');
  outside = path.join(t.dir, 'outside');
  consoleStore = path.join(t.dir, 'console-store');
  for (const d of [allowed, restoreRoot, outside, path.join(allowed, 'docs'), path.join(allowed, 'scheduled')]) await mkdir(d, { recursive: true });
  await writeFile(path.join(allowed, 'docs', 'report.txt'), 'quarterly report\n'.repeat(100));
  await writeFile(path.join(allowed, 'scheduled', 'a.txt'), 'scheduled data\n');
  await writeFile(path.join(outside, 'secret.txt'), 'not for operators\n');
  await symlink(outside, path.join(allowed, 'link-out'));
  await symlink(dataDir, path.join(allowed, 'link-data'));
  await symlink(outside, path.join(restoreRoot, 'link-out'));
  // A loaded machine may need more than open()'s 60 s to create a fresh embedded catalog.
  await ensureEmbeddedServer(dataDir, 240_000);
  // The master key as a generated file (not the environment), so key files exist in the data dir.
  engine = await t.open({ PLEXICHAT_ENCRYPTION_KEY: '', PLEXICHAT_ALLOWED_BACKUP_PATHS: allowed, PLEXICHAT_ALLOWED_RESTORE_PATHS: restoreRoot });
  await writeFile(path.join(dataDir, 'auth-secret'), 'signing-secret\n', { mode: 0o600 });
  // A storage location added from the console (a catalog row, outside the data dir).
  await mkdir(consoleStore, { recursive: true });
  await LocationStore.forInstallation(engine).add({ name: 'console-local', type: 'local', path: consoleStore, enabled: false });
});
afterAll(async () => t?.cleanup());

describe('backups from the console as operator', () => {
  it('refuses /etc, the data dir and the auth secret, naming allowed_backup_paths; audits each refusal', async () => {
    const op = caller('operator');
    for (const p of ['/etc', dataDir, path.join(dataDir, 'auth-secret'), path.join(dataDir, 'master.key')]) {
      await expect(op.backup.create({ source: { kind: 'paths', paths: [p] } })).rejects.toMatchObject(refused(/operators may back up only under allowed_backup_paths \(.*allowed\)/i));
    }
    const audited = await denials('backup.create');
    expect(audited.map((a) => a.details.path)).toEqual(expect.arrayContaining(['/etc', dataDir, path.join(dataDir, 'auth-secret')]));
    expect(audited.every((a) => a.actor === 'operator@x.io' && a.details.rule === 'allowed_backup_paths' && a.details.role === 'operator')).toBe(true);
  });

  it('a refusal reaches the browser as a 403 with its words', async () => {
    const err = await caller('operator').backup.create({ source: { kind: 'paths', paths: ['/etc'] } }).catch((e: unknown) => e as TRPCError);
    const shape = shapeFor(mapError(err as TRPCError), 'backup.create');
    expect(shape.data.httpStatus).toBe(403);
    expect(shape.message).toBe('Operators may back up only under allowed_backup_paths (' + allowed + '); /etc is outside. Ask an admin.');
  });

  it('backs up under allowed_backup_paths', async () => {
    const { backup_id } = await caller('operator').backup.create({ source: { kind: 'paths', paths: [path.join(allowed, 'docs')] } });
    expect((await completed(backup_id)).status).toBe('completed');
  });

  it('refuses a symlink inside an allowed root that points outside it (or at the data dir)', async () => {
    const op = caller('operator');
    await expect(op.backup.create({ source: { kind: 'paths', paths: [path.join(allowed, 'link-out')] } })).rejects.toMatchObject(refused(/allowed_backup_paths.*resolves to .*outside/));
    await expect(op.backup.create({ source: { kind: 'paths', paths: [path.join(allowed, 'link-data')] } })).rejects.toMatchObject(refused(/allowed_backup_paths/));
  });

  it('refuses "..", relative paths, and says nothing about paths outside the roots', async () => {
    const op = caller('operator');
    await expect(op.backup.create({ source: { kind: 'paths', paths: [`${allowed}/../outside`] } })).rejects.toMatchObject(refused(/may not contain "\.\."/));
    await expect(op.backup.create({ source: { kind: 'paths', paths: ['allowed/docs'] } })).rejects.toMatchObject(refused(/absolute path/));
    // A missing path outside the roots gets the same answer as an existing one (no existence oracle).
    await expect(op.backup.create({ source: { kind: 'paths', paths: ['/no/such/dir'] } })).rejects.toMatchObject(refused(/allowed_backup_paths/));
  });

  it('refuses an uploaded or pasted payload name that could never be restored', async () => {
    for (const name of ['../x', '/x', 'a/../b', 'a\\b'])
      await expect(caller('operator').backup.create({ source: { kind: 'text', name, text: 'x' } })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
  });
});

describe('backups from the console as admin', () => {
  it('are not limited by allowed_backup_paths', async () => {
    const { backup_id } = await caller('admin').backup.create({ source: { kind: 'paths', paths: [outside] } });
    expect((await completed(backup_id)).status).toBe('completed');
  });

  it("refuse the installation's own files and every directory that contains them, naming the rule", async () => {
    const admin = caller('admin');
    const cases: [string, RegExp][] = [
      [dataDir, /inside the installation's data directory/],
      [path.join(dataDir, 'auth-secret'), /inside the installation's data directory/],
      [t.env.PLEXICHAT_KEY_FILE!, /inside the master key file/],
      [path.dirname(t.env.PLEXICHAT_KEY_FILE!), /contains the master key file/],
      [consoleStore, /inside storage location "console-local"/],
      [path.join(allowed, 'link-data'), /inside the installation's data directory/],
      [t.dir, /contains the installation's data directory/],
      ['/', /contains the installation's data directory/],
    ];
    for (const [p, why] of cases) {
      await expect(admin.backup.create({ source: { kind: 'paths', paths: [p] } })).rejects.toMatchObject(refused(new RegExp(`Nobody may back up.*${why.source}`)));
    }
    const audited = await denials('backup.create');
    expect(audited.filter((a) => a.actor === 'admin@x.io' && a.details.rule === 'protected_paths')).toHaveLength(cases.length);
  });
});

describe('restores from the console', () => {
  let backupId: string;
  beforeAll(async () => {
    backupId = (await engine.createBackup({ paths: [path.join(allowed, 'docs')] })).backup_id;
  });

  it('as operator: refused outside allowed_restore_paths (also through a symlink), works inside', async () => {
    const op = caller('operator');
    await expect(op.backup.recover({ backupId, target: path.join(outside, 'r') })).rejects.toMatchObject(refused(/operators may restore only under allowed_restore_paths/i));
    await expect(op.backup.recover({ backupId, target: '/etc' })).rejects.toMatchObject(refused(/allowed_restore_paths/));
    await expect(op.backup.recover({ backupId, target: path.join(restoreRoot, 'link-out', 'deeper') })).rejects.toMatchObject(refused(/allowed_restore_paths.*resolves to/));
    await expect(op.backup.recover({ backupId, target: `${restoreRoot}/../outside` })).rejects.toMatchObject(refused(/"\.\."/));
    expect(await readdir(outside)).toEqual(['secret.txt']);

    const target = path.join(restoreRoot, 'new', 'nested'); // does not exist yet
    const job = await op.backup.recover({ backupId, target });
    const done = await restored(job.restore_id);
    expect(done).toMatchObject({ status: 'completed', result: { files_restored: 1 } });
    expect((await denials('backup.restore')).filter((a) => a.actor === 'operator@x.io').length).toBeGreaterThanOrEqual(4);
  });

  it('as operator: overwriting is refused; admins may', async () => {
    const target = path.join(restoreRoot, 'again');
    await expect(caller('operator').backup.recover({ backupId, target, overwrite: true })).rejects.toMatchObject(refused(/Only admins may overwrite/));
    const job = await caller('admin').backup.recover({ backupId, target, overwrite: true });
    expect((await restored(job.restore_id)).status).toBe('completed');
  });

  it("as admin: refused into the installation's own files or a directory containing them", async () => {
    const admin = caller('admin');
    for (const target of [dataDir, path.join(dataDir, 'restore-here'), consoleStore, '/', t.dir]) {
      await expect(admin.backup.recover({ backupId, target, overwrite: true })).rejects.toMatchObject(refused(/Nobody may restore into/));
    }
    expect((await readFile(path.join(dataDir, 'auth-secret'), 'utf8')).trim()).toBe('signing-secret');
  });
});

describe('schedules', () => {
  it('refuses a forbidden path when saved, with the saver role', async () => {
    const op = caller('operator');
    await expect(op.schedules.create({ name: 'etc', cron: '0 3 * * *', paths: ['/etc'] })).rejects.toMatchObject(refused(/allowed_backup_paths/));
    await expect(caller('admin').schedules.create({ name: 'keys', cron: '0 3 * * *', paths: [dataDir] })).rejects.toMatchObject(refused(/Nobody may back up/));
    expect((await denials('schedule.create')).length).toBe(2);
  });

  it('checks again when it runs: a directory swapped for a symlink after it was saved is refused', async () => {
    const op = caller('operator');
    const dir = path.join(allowed, 'scheduled');
    await op.schedules.create({ name: 'ops-nightly', cron: '0 3 * * *', paths: [dir] });
    const worker = new ScheduleWorker(engine);
    expect((await worker.runNow('ops-nightly')).status).toBe('completed');

    await rename(dir, path.join(allowed, 'scheduled-old'));
    await symlink(outside, dir);
    const run = await worker.runNow('ops-nightly');
    expect(run).toMatchObject({ status: 'failed', backup_id: null });
    expect(run.error).toMatch(/allowed_backup_paths/);
    const [denied] = await denials('schedule.run');
    expect(denied).toMatchObject({ actor: 'schedule:ops-nightly', details: { rule: 'allowed_backup_paths', owner: 'operator@x.io', role: 'operator' } });
  });

  it('an edit that keeps the paths keeps the owner; one that changes them is checked with the editor role', async () => {
    await caller('admin').schedules.create({ name: 'admin-outside', cron: '0 3 * * *', paths: [outside] });
    const op = caller('operator');
    // An operator may change the time of an admin's schedule…
    await op.schedules.update({ name: 'admin-outside', schedule: { name: 'admin-outside', cron: '0 4 * * *', paths: [outside] } });
    expect((await new ScheduleWorker(engine).runNow('admin-outside')).status).toBe('completed');
    // …but not point it elsewhere outside the roots.
    await expect(op.schedules.update({ name: 'admin-outside', schedule: { name: 'admin-outside', cron: '0 4 * * *', paths: ['/etc'] } })).rejects.toMatchObject(refused(/allowed_backup_paths/));
  });

  it('a schedule made from the CLI (a local shell user) is not limited', async () => {
    await createSchedule(engine.catalog.db, { name: 'cli-outside', cron: '0 3 * * *', paths: [outside] }, new Date());
    expect((await new ScheduleWorker(engine).runNow('cli-outside')).status).toBe('completed');
  });
});

describe('auth.me', () => {
  it('tells the forms where each role may back up and restore', async () => {
    expect((await caller('operator').auth.me()).pathPolicy).toEqual({ backupRoots: [allowed], restoreRoots: [restoreRoot], mayOverwrite: false });
    expect((await caller('admin').auth.me()).pathPolicy).toEqual({ backupRoots: null, restoreRoots: null, mayOverwrite: true });
    expect((await caller('viewer').auth.me()).pathPolicy).toEqual({ backupRoots: [], restoreRoots: [], mayOverwrite: false });
  });
});

describe('the policy on its own', () => {
  const policy = (over: Partial<ConstructorParameters<typeof PathPolicy>[0]> = {}) =>
    new PathPolicy({ allowedBackupPaths: [], allowedRestorePaths: [], protectedPaths: async () => [{ what: "the installation's data directory", path: dataDir }], ...over });
  const operator = { email: 'o@x.io', role: 'operator' as const };

  it('with no lists, operators may give no paths at all', async () => {
    await expect(policy().checkBackupSources(operator, [path.join(allowed, 'docs')], { action: 'backup.create' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/allowed_backup_paths is not set/) });
    await expect(policy().checkRestoreTarget(operator, restoreRoot, false, { action: 'backup.restore' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/allowed_restore_paths is not set/) });
  });

  it('a root that contains the data dir still does not let operators back it up', async () => {
    const p = policy({ allowedBackupPaths: [t.dir] });
    await expect(p.checkBackupSources(operator, [dataDir], { action: 'backup.create' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/Nobody may back up the installation's own files/) });
    expect(await p.checkBackupSources(operator, [outside], { action: 'backup.create' })).toEqual([outside]);
  });

  it('refuses a dangling symlink on the way to a restore target', async () => {
    await symlink(path.join(t.dir, 'nowhere'), path.join(restoreRoot, 'dangling'));
    await expect(policy({ allowedRestorePaths: [restoreRoot] }).checkRestoreTarget(operator, path.join(restoreRoot, 'dangling', 'x'), false, { action: 'backup.restore' })).rejects.toMatchObject({ code: 'FORBIDDEN', message: expect.stringMatching(/symbolic link whose target does not exist/) });
  });
});
