/**
 * Restore jobs live in the catalog (restore_jobs), not in the memory of the console that started them: a
 * second console instance sees a job and its progress, the job survives a restart of the first, a queued job
 * is run by whichever instance claims it (once), a CLI restore is recorded, and a job whose process was
 * SIGKILLed (or stopped beating on another machine) is marked interrupted.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { restoreJobs, type Role } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import type { RestoreJobView } from '../../server/engine/restore/restore-jobs';
import { createCallerFactory } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import type { Services } from '../../server/trpc/services/types';
import { runCli } from '../support/cli';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

const MiB = 1024 * 1024;
// PostgreSQL when the test services run (two processes on one catalog), else the embedded catalog.
const mode = CATALOG_MODES[CATALOG_MODES.length - 1]!;

let t: TestEnv;
let a: BackupEngine;
let b: BackupEngine;
let backupId: string;

const unused = async (): Promise<never> => {
  throw new Error('not used by these procedures');
};
function caller(engine: () => BackupEngine, role: Role) {
  const services: Services = { engine: async () => engine(), users: unused, audit: unused };
  return createCallerFactory(appRouter)({ user: { id: `id-${role}`, email: `${role}@x.io`, name: null, role }, services });
}

async function settled(engine: BackupEngine, id: string, seen: RestoreJobView[] = []): Promise<RestoreJobView> {
  for (let i = 0; i < 1200; i++) {
    const job = await engine.getRestoreJob(id);
    if (!job) throw new Error(`restore ${id} is not in the catalog`);
    seen.push(job);
    if (job.status === 'completed' || job.status === 'failed') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`restore ${id} did not finish`);
}

beforeAll(async () => {
  t = await makeEnv(mode);
  const env = { PLEXICHAT_ALLOWED_RESTORE_PATHS: t.dir };
  a = await t.open(env);
  b = await t.open(env);
  const src = path.join(t.dir, 'src');
  await mkdir(src, { recursive: true });
  // Incompressible, so a restore takes long enough for a second process to watch it (and for a SIGKILL to land mid-way).
  for (let i = 0; i < 12; i++) await writeFile(path.join(src, `part-${i}.bin`), randomBytes(4 * MiB));
  backupId = (await a.createBackup({ paths: [src] })).backup_id;
}, 300_000);
afterAll(async () => t?.cleanup());

describe(`restore jobs in the catalog (${mode})`, () => {
  it('a restore started through console A shows its progress and result on console B, and survives a restart of A', async () => {
    const job = await caller(() => a, 'operator').backup.recover({ backupId, target: path.join(t.dir, 'r1') });
    expect(job).toMatchObject({ status: 'running', via: 'console', actor: 'operator@x.io', claimed_by: a.processId });

    // Console B (another engine on the same catalog) follows the job through its own procedures.
    const seen: RestoreJobView[] = [];
    const done = await settled(b, job.restore_id, seen);
    expect(done).toMatchObject({ status: 'completed', error: null, claimed_by: a.processId, result: { files_restored: 12, bytes_restored: 48 * MiB } });
    expect(done.progress).toMatchObject({ percent: 100, files_done: 12, files_total: 12, bytes_done: 48 * MiB, bytes_total: 48 * MiB, eta_seconds: null });
    expect(seen[0]).toMatchObject({ status: 'running', claimed_by: a.processId });
    expect(seen.every((s) => s.status === 'running' || s.status === 'completed')).toBe(true);
    const viaB = await caller(() => b, 'viewer').restores.get({ restoreId: job.restore_id });
    expect(viaB.status).toBe('completed');

    // A restarts: the job is still on record, with its result, for both.
    await a.close();
    a = await t.open({ PLEXICHAT_ALLOWED_RESTORE_PATHS: t.dir });
    expect(await caller(() => a, 'operator').backup.restoreProgress({ restoreId: job.restore_id })).toMatchObject({ status: 'completed', result: { files_restored: 12 } });
    const listed = await caller(() => b, 'viewer').restores.list({ backupId });
    expect(listed.jobs.map((j) => j.restore_id)).toContain(job.restore_id);
  }, 300_000);

  it('a queued restore is claimed once (SKIP LOCKED) and run by whichever instance claims it', async () => {
    const queued = await a.enqueueRestore({ backupId, target: path.join(t.dir, 'r2'), options: { include: ['**/part-1.bin'] }, actor: 'admin@x.io', actorRole: 'admin', via: 'console' });
    expect(queued.status).toBe('queued');
    const [fromA, fromB] = await Promise.all([a.claimRestores({ onlyId: queued.restore_id }), b.claimRestores({ onlyId: queued.restore_id })]);
    const claims = [...fromA, ...fromB];
    expect(claims).toHaveLength(1);
    const result = await claims[0]!.done;
    expect(result.files_restored).toBe(1);
    const other = fromA.length ? b : a;
    expect(await other.getRestoreJob(queued.restore_id)).toMatchObject({ status: 'completed', claimed_by: claims[0]!.job.claimed_by, result: { files_restored: 1 } });
  }, 300_000);

  it('a failed restore is recorded with the console wording and no ETA', async () => {
    const target = path.join(t.dir, 'occupied');
    await mkdir(target, { recursive: true });
    await writeFile(path.join(target, 'already-here'), 'x');
    const job = await caller(() => a, 'operator').backup.recover({ backupId, target });
    const done = await settled(b, job.restore_id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/is not empty/);
    expect(done.error).toMatch(/only admins may overwrite/i);
    expect(done.error).not.toMatch(/--overwrite/);
    expect(done.progress.eta_seconds).toBeNull();
  }, 120_000);

  it('refuses a relative target with a clear message, before any job exists', async () => {
    await expect(caller(() => a, 'admin').backup.recover({ backupId, target: 'restore-here' })).rejects.toMatchObject({ code: 'BAD_REQUEST', message: expect.stringMatching(/absolute directory/) });
  });

  it('records a CLI restore, and marks it interrupted when its process is SIGKILLed', async () => {
    let pid = 0;
    const cli = runCli(['restore', backupId, '--target', path.join(t.dir, 'killed'), '--json'], t.env as Record<string, string>, { onSpawn: (p) => (pid = p) });
    let running: RestoreJobView | undefined;
    for (let i = 0; i < 2400 && !running; i++) {
      running = (await b.listRestoreJobs({ status: 'running' })).jobs.find((j) => j.via === 'cli');
      if (!running) await new Promise((r) => setTimeout(r, 25));
    }
    expect(running, 'the CLI restore appears as running').toBeDefined();
    expect(running!.actor).toMatch(/^cli:/);
    process.kill(pid, 'SIGKILL');
    expect((await cli).code).toBeNull(); // killed, not finished
    const after = await b.getRestoreJob(running!.restore_id);
    expect(after).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted: the process running this restore stopped/) });
    expect(after!.finished_at).not.toBeNull();
  }, 300_000);

  it('marks interrupted a job whose process on another machine stopped beating for 20 s', async () => {
    const db = b.catalog.db;
    const old = new Date(Date.now() - 60_000);
    await db.insert(restoreJobs).values({ id: 'restore_elsewhere', backupId, status: 'running', actor: 'x@x.io', actorRole: 'admin', via: 'console', target: '/srv/x', claimedBy: 'other:1:ab', ownerPid: 1, ownerHost: 'another-machine', heartbeatAt: old, startedAt: old, createdAt: old });
    const fresh = new Date();
    await db.insert(restoreJobs).values({ id: 'restore_alive', backupId, status: 'running', actor: 'x@x.io', actorRole: 'admin', via: 'console', target: '/srv/y', claimedBy: 'other:2:ab', ownerPid: 2, ownerHost: 'another-machine', heartbeatAt: fresh, startedAt: fresh, createdAt: fresh });
    expect(await a.getRestoreJob('restore_elsewhere')).toMatchObject({ status: 'failed', error: expect.stringMatching(/interrupted/) });
    expect(await a.getRestoreJob('restore_alive')).toMatchObject({ status: 'running' });
  });
});
