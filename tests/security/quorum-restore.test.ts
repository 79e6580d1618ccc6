/**
 * A MAXIMUM backup restored from the console (backup.recover with the key holders' shares): without shares
 * the job fails naming the console's field; fewer than k shares are refused before anything is recorded;
 * k shares restore byte for byte. The shares are never stored: no restore job row and no audit event holds
 * one. Viewers cannot restore at all.
 */
import path from 'node:path';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, restoreJobs, type Role } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import { createCallerFactory } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import type { Services } from '../../server/trpc/services/types';
import { treeDiff } from '../support/compare';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

let t: TestEnv;
let engine: BackupEngine;
let backupId: string;
let shares: string[];
let src: string;

const unused = async (): Promise<never> => {
  throw new Error('not used by these procedures');
};
function caller(role: Role) {
  const services: Services = { engine: async () => engine, users: unused, audit: unused };
  return createCallerFactory(appRouter)({ user: { id: `id-${role}`, email: `${role}@x.io`, name: null, role }, services });
}

async function finished(restoreId: string) {
  for (let i = 0; i < 600; i++) {
    const job = await caller('operator').backup.restoreProgress({ restoreId });
    if (job.status !== 'running' && job.status !== 'queued') return job;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the restore did not finish');
}

beforeAll(async () => {
  t = await makeEnv('embedded');
  engine = await t.open({ PLEXICHAT_HIGH_PASSPHRASE: 'correct horse battery staple', PLEXICHAT_ALLOWED_RESTORE_PATHS: t.dir });
  shares = (await engine.initKeyQuorum(3, 5)).shares;
  src = path.join(t.dir, 'src');
  await makeTree(src, { seed: 31, smallFiles: 30, bigFiles: [300 * 1024] });
  backupId = (await engine.createBackup({ paths: [src], securityLevel: 'maximum' })).backup_id;
}, 300_000);
afterAll(async () => t?.cleanup());

describe('console restore of a MAXIMUM backup', () => {
  it('without shares the job fails naming the form field, not a CLI flag', async () => {
    const job = await caller('admin').backup.recover({ backupId, target: path.join(t.dir, 'r-none') });
    const done = await finished(job.restore_id);
    expect(done.status).toBe('failed');
    expect(done.error).toContain("needs the key holders' quorum");
    expect(done.error).toContain('"Key holders\' shares" on the restore form');
    expect(done.error).not.toContain('--share');
  });

  it('fewer than k shares are refused at once, and nothing is recorded', async () => {
    const before = (await engine.listRestoreJobs({ backupId })).total;
    const err = await caller('operator')
      .backup.recover({ backupId, target: path.join(t.dir, 'r-two'), shares: shares.slice(0, 2) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TRPCError);
    expect((err as TRPCError).message).toMatch(/needs 3 shares of different key holders \(of 5\); only 2 given/);
    expect((await engine.listRestoreJobs({ backupId })).total).toBe(before);
  });

  it('k shares restore byte for byte; no share is stored in the catalog', async () => {
    const target = path.join(t.dir, 'r-three');
    const job = await caller('operator').backup.recover({ backupId, target, shares: [shares[4]!, shares[0]!, shares[2]!] });
    const done = await finished(job.restore_id);
    expect(done).toMatchObject({ status: 'completed', error: null });
    expect(await treeDiff(src, target)).toEqual([]);

    const stored = JSON.stringify([await engine.catalog.db.select().from(restoreJobs), await engine.catalog.db.select().from(auditEvents)]);
    for (const s of shares) expect(stored).not.toContain(s.slice(-40));
    expect(stored).not.toContain('plexichat-share-v1:');
  });

  it('a viewer cannot restore, shares or not', async () => {
    await expect(caller('viewer').backup.recover({ backupId, target: path.join(t.dir, 'r-viewer'), shares: shares.slice(0, 3) })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });
});
