/**
 * Restores from the console run as background jobs: the procedure answers at once, progress is polled to
 * the end, the date-range filter selects by modification time, and a failure is reported on the job.
 */
import { mkdir, readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import { createCallerFactory } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import type { Services } from '../../server/trpc/services/types';
import { makeEnv, type TestEnv } from '../support/engine-env';

let t: TestEnv;
let engine: BackupEngine;
let backupId: string;

const unused = async (): Promise<never> => {
  throw new Error('not used by these procedures');
};
function caller(role: Role) {
  const services: Services = { engine: async () => engine, users: unused, audit: unused };
  return createCallerFactory(appRouter)({ user: { id: `id-${role}`, email: `${role}@x.io`, name: null, role }, services });
}

async function finished(restoreId: string) {
  for (let i = 0; i < 300; i++) {
    const job = await caller('operator').backup.restoreProgress({ restoreId });
    if (job.status !== 'running' && job.status !== 'queued') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the restore did not finish');
}

beforeAll(async () => {
  t = await makeEnv('embedded');
  // Operators restore only under allowed_restore_paths (tests/security/path-policy.test.ts).
  engine = await t.open({ PLEXICHAT_ALLOWED_RESTORE_PATHS: t.dir });
  const src = path.join(t.dir, 'src');
  await mkdir(src, { recursive: true });
  for (const [name, day] of [['january.txt', '2024-01-15'], ['june.txt', '2024-06-15'], ['december.txt', '2024-12-15']] as const) {
    const file = path.join(src, name);
    await writeFile(file, `${name} `.repeat(5000));
    await utimes(file, new Date(`${day}T12:00:00Z`), new Date(`${day}T12:00:00Z`));
  }
  backupId = (await engine.createBackup({ paths: [src] })).backup_id;
});
afterAll(async () => t?.cleanup());

describe('restore jobs from the console', () => {
  it('answers at once, then reports progress to completion; the date range selects by modification time', async () => {
    const target = path.join(t.dir, 'summer');
    const job = await caller('operator').backup.recover({ backupId, target, from: '2024-06-01', to: '2024-06-30' });
    expect(job).toMatchObject({ backup_id: backupId, status: 'running', actor: 'operator@x.io' });
    const done = await finished(job.restore_id);
    expect(done).toMatchObject({ status: 'completed', error: null, result: { files_restored: 1 }, progress: { percent: 100, files_done: 1, files_total: 1 } });
    expect(await readdir(path.join(target, ...(await firstDir(target))))).toEqual(['june.txt']);
  });

  it('reports a failed restore on the job, with the reason', async () => {
    const target = path.join(t.dir, 'occupied');
    await mkdir(target, { recursive: true });
    await writeFile(path.join(target, 'already-here'), 'x');
    const job = await caller('admin').backup.recover({ backupId, target });
    const done = await finished(job.restore_id);
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/not empty|overwrite/i);
  });

  it('refuses a reversed date range, an unknown backup or job, and viewers', async () => {
    await expect(caller('operator').backup.recover({ backupId, target: '/tmp/x', from: '2024-07-01', to: '2024-06-01' })).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(caller('operator').backup.recover({ backupId: 'backup_nope', target: '/tmp/x' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(caller('operator').backup.restoreProgress({ restoreId: 'restore_nope' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(caller('viewer').backup.restoreProgress({ restoreId: 'restore_nope' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});

/** Restores recreate the source's absolute path under the target: the path down to the restored files. */
async function firstDir(root: string): Promise<string[]> {
  const parts: string[] = [];
  let dir = root;
  for (;;) {
    const entries = await readdir(dir, { withFileTypes: true });
    if (entries.length !== 1 || !entries[0]!.isDirectory()) return parts;
    parts.push(entries[0]!.name);
    dir = path.join(dir, entries[0]!.name);
  }
}
