/**
 * Immutable copies tied to retention (issue 12), end to end: an installation with a local location and an
 * S3 location under Object Lock (our enforcing test server, tests/support/s3-lock-server.ts, driven by the
 * real @aws-sdk/client-s3). The engine's and the store's clocks are one injected clock, so "after the lock"
 * is a clock step, not a sleep. CLI runs use the real clock, which is the injected clock's start.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { BackupEngine } from '../../server/engine/engine';
import type { StorageBackend } from '../../server/engine/storage/backend';
import { createBackend } from '../../server/engine/storage/factory';
import { runCli } from '../support/cli';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { startS3LockServer, type S3LockServer } from '../support/s3-lock-server';
import { S3RVER_CREDENTIALS } from '../support/s3-server';
import { makeTree } from '../support/tree';

const DAY = 86_400_000;
const RETENTION_DAYS = 7;
/** The lock a backup made at `t` gets: its expiry + margin_days (1), on a whole second. */
const lockAfter = (t: number) => new Date(Math.ceil((t + (RETENTION_DAYS + 1) * DAY) / 1000) * 1000);

let clock = Date.now();
const now = () => new Date(clock);

interface Setup {
  t: TestEnv;
  s3: S3LockServer;
  engine: BackupEngine;
  vault: StorageBackend;
  keys(prefix: string): Promise<string[]>;
  backup(name: string): Promise<string>;
}

async function setup(mode: 'governance' | 'compliance', locations: 'local+s3' | 's3'): Promise<Setup> {
  const s3 = await startS3LockServer({ lockedBuckets: ['vault'], now: () => clock });
  const vaultLoc = { name: 'vault', type: 's3', priority: 20, region: 'us-east-1', enabled: true, bucket_name: 'vault', endpoint: s3.endpoint, force_path_style: true, ...S3RVER_CREDENTIALS, immutability: { mode, min_days: 3 } };
  const t = await makeEnv('embedded', {});
  const storage = locations === 'local+s3' ? [{ name: 'disk', type: 'local', path: path.join(t.dir, 'disk'), priority: 10 }, vaultLoc] : [vaultLoc];
  await writeFile(t.env.PLEXICHAT_CONFIG!, JSON.stringify({ storage_locations: storage, replication_factor: storage.length, retention_days: RETENTION_DAYS }));
  const engine = await BackupEngine.open(loadConfig(t.env), { log: () => undefined, now });
  const vault = await createBackend(loadConfig(t.env).storage_locations.find((l) => l.name === 'vault')!, { timeoutMs: 10_000, retries: 0, backoffMs: 10 });
  const keys = async (prefix: string) => {
    const out: string[] = [];
    for await (const o of vault.list(prefix)) out.push(o.key);
    return out.sort();
  };
  const backup = async (name: string) => {
    const src = path.join(t.dir, name);
    await makeTree(src, { seed: name.length * 7 + name.charCodeAt(0), smallFiles: 30, bigFiles: [600_000] });
    await writeFile(path.join(src, 'unique.bin'), randomBytes(300_000));
    return (await engine.createBackup({ paths: [src] })).backup_id;
  };
  return { t, s3, engine, vault, keys, backup };
}

async function teardown(s: Setup | undefined): Promise<void> {
  await s?.vault.close();
  await s?.engine.close().catch(() => undefined);
  await s?.t.cleanup();
  await s?.s3.close();
}

/** The vault's shard keys of one backup (from the catalog). */
async function shardKeysOf(s: Setup, backupId: string): Promise<string[]> {
  const map = await s.engine.getShardMap(backupId);
  return map.filter((m) => m.replicas.some((r) => r.location === 'vault')).map((m) => `data/${m.shard_id.slice(0, 2)}/${m.shard_id}`).sort();
}

describe('Object Lock (governance) with a local and an S3 location', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup('governance', 'local+s3');
  });
  afterAll(async () => teardown(s));

  it('writes every shard and the backup snapshot locked until the backup expiry + margin', async () => {
    const t0 = clock;
    const id = await s.backup('first');
    const shards = await shardKeysOf(s, id);
    expect(shards.length).toBeGreaterThan(1);
    for (const key of [...shards, `snapshots/${id}`]) expect(s.s3.lockOf('vault', key), key).toEqual({ mode: 'GOVERNANCE', until: lockAfter(t0) });
    // Keys are rewritten by key rotation: never locked.
    for (const key of await s.keys('keys/')) expect(s.s3.lockOf('vault', key)).toBeNull();
  });

  it('delete --force keeps the locked objects and says so; the local copies go; storage gc keeps them until the lock ends, then deletes them', async () => {
    const id = await s.backup('doomed');
    const shards = await shardKeysOf(s, id);
    const res = await runCli(['delete', id, '--force'], s.t.env);
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`Deleted ${id}`);
    expect(res.stdout).toMatch(new RegExp(`vault: snapshots/${id} kept: locked until \\d{4}-`));
    const left = await s.keys('');
    for (const key of shards) expect(left).toContain(key);
    expect(left).toContain(`snapshots/${id}`);

    const early = await s.engine.sweepOrphans({ graceHours: 0 });
    expect(early.released.deleted).toBe(0);
    expect(early.released.kept).toBeGreaterThanOrEqual(shards.length + 1);
    expect(early.totals.deleted.objects).toBe(0);
    for (const key of shards) expect(await s.vault.stat(key)).not.toBeNull();

    clock += (RETENTION_DAYS + 2) * DAY;
    const late = await s.engine.sweepOrphans({ graceHours: 0 });
    expect(late.problems).toEqual([]);
    expect(late.released.deleted).toBeGreaterThanOrEqual(shards.length + 1);
    const after = await s.keys('');
    for (const key of [...shards, `snapshots/${id}`]) expect(after).not.toContain(key);
  });

  it('prune removes an expired backup, keeps its objects while locked (reported), and collects them after', async () => {
    const t0 = clock;
    const id = await s.backup('expiring');
    const shards = await shardKeysOf(s, id);
    clock = t0 + (RETENTION_DAYS + 0.5) * DAY; // expired, lock (expiry + 1 day) not over
    const plan = await s.engine.prune();
    expect(plan.remove.map((r) => r.backup_id)).toContain(id);
    const kept = plan.kept_locked.filter((k) => k.location === 'vault').map((k) => k.key);
    for (const key of [...shards, `snapshots/${id}`]) expect(kept).toContain(key);
    for (const k of plan.kept_locked) expect(k.locked_until).toBe(lockAfter(t0).toISOString());
    for (const key of shards) expect(await s.vault.stat(key)).not.toBeNull();

    clock = t0 + (RETENTION_DAYS + 1.5) * DAY;
    const next = await s.engine.prune();
    expect(next.released.deleted).toBeGreaterThanOrEqual(shards.length + 1);
    for (const key of shards) expect(await s.vault.stat(key)).toBeNull();
  });

  it('a newer backup reusing a shard extends its lock to the newer backup expiry + margin', async () => {
    const t0 = clock;
    const first = await s.backup('reused');
    const before = await shardKeysOf(s, first);
    clock = t0 + 4 * DAY;
    const second = await s.engine.createBackup({ paths: [path.join(s.t.dir, 'reused')] });
    const reused = (await shardKeysOf(s, second.backup_id)).filter((k) => before.includes(k));
    expect(reused.length).toBeGreaterThan(0);
    for (const key of reused) expect(s.s3.lockOf('vault', key)?.until, key).toEqual(lockAfter(t0 + 4 * DAY));
    // The first backup expires; the shards the second still uses are not even tried.
    clock = t0 + (RETENTION_DAYS + 2) * DAY;
    await s.engine.deleteBackup(first);
    for (const key of reused) expect(await s.vault.stat(key)).not.toBeNull();
  });
});

describe('Object Lock (compliance): no early deletion, not even for an admin', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup('compliance', 's3');
  });
  afterAll(async () => teardown(s));

  it('an admin delete --force and storage gc keep every locked object; after the lock they go', async () => {
    const t0 = clock;
    const id = await s.backup('sealed');
    const shards = await shardKeysOf(s, id);
    for (const key of shards) expect(s.s3.lockOf('vault', key)?.mode).toBe('COMPLIANCE');
    const r = await s.engine.deleteBackupReport(id, { force: true, actor: 'admin@example.com' });
    expect(r.kept_locked.map((k) => k.key).sort()).toEqual([...shards, `snapshots/${id}`].sort());
    const gc = await s.engine.sweepOrphans({ graceHours: 0, actor: 'admin@example.com' });
    expect(gc.released.kept).toBe(shards.length + 1);
    for (const key of shards) expect(await s.vault.stat(key)).not.toBeNull();
    clock = t0 + (RETENTION_DAYS + 1) * DAY + 1000;
    const late = await s.engine.sweepOrphans({ graceHours: 0 });
    expect(late.released.deleted).toBe(shards.length + 1);
    for (const key of shards) expect(await s.vault.stat(key)).toBeNull();
  });
});

describe('append-only local location', () => {
  let t: TestEnv;
  let engine: BackupEngine;
  beforeAll(async () => {
    t = await makeEnv('embedded', {});
    const repo = path.join(t.dir, 'repo');
    await writeFile(t.env.PLEXICHAT_CONFIG!, JSON.stringify({ storage_locations: [{ name: 'wal', type: 'local', path: repo, append_only: true }], replication_factor: 1, retention_days: RETENTION_DAYS }));
    engine = await BackupEngine.open(loadConfig(t.env), { log: () => undefined, now });
  });
  afterAll(async () => {
    await engine?.close().catch(() => undefined);
    await t?.cleanup();
  });

  it('the backup process never deletes there; only storage gc --append-only-delete does', async () => {
    const src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 5, smallFiles: 20 });
    const b = await engine.createBackup({ paths: [src] });
    const shards = (await engine.getShardMap(b.backup_id)).map((m) => path.join(t.dir, 'repo', 'data', m.shard_id.slice(0, 2), m.shard_id));
    const r = await engine.deleteBackupReport(b.backup_id, { force: true });
    expect(r.kept_locked.length).toBe(shards.length + 1);
    expect(r.kept_locked.every((k) => k.locked_until === null)).toBe(true);
    const gc = await engine.sweepOrphans({ graceHours: 0 });
    expect(gc.released).toMatchObject({ deleted: 0, kept: shards.length + 1 });
    for (const f of shards) expect(existsSync(f)).toBe(true);
    const admin = await engine.sweepOrphans({ graceHours: 0, appendOnlyDelete: true });
    expect(admin.released).toMatchObject({ deleted: shards.length + 1, kept: 0 });
    for (const f of shards) expect(existsSync(f)).toBe(false);
  });
});
