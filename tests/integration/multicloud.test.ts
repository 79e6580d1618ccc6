/**
 * The engine over real protocol servers — s3rver, Azurite and a GCS JSON-API server — each behind a
 * fault-injecting proxy: replication across clouds, restores with any one cloud stopped, a cloud lost
 * half-way through a backup, transient 503s retried, a corrupted replica found and repaired, read fail-over.
 * Embedded catalog only (the engine logic under test does not depend on the catalog).
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { BackupEngine } from '../../server/engine/engine';
import { shardKey } from '../../server/engine/repository/repository';
import { resetStorageRetryStats, storageRetryStats } from '../../server/engine/storage/retrying';
import { AZURITE_KEY, azuriteConnectionString, startAzurite, type Azurite } from '../support/azurite';
import { treeDiff } from '../support/compare';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { startGcsServer, type GcsServer } from '../support/gcs-server';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../support/s3-server';
import { makeTree } from '../support/tree';

type Kind = 's3' | 'azure' | 'gcs';
interface Cloud {
  kind: Kind;
  name: string;
  proxy: FaultProxy;
  config: Record<string, unknown>;
}

const PLACEMENT: Record<Kind, { priority: number; region: string }> = {
  s3: { priority: 10, region: 'us-east-1' },
  azure: { priority: 20, region: 'eu-west' },
  gcs: { priority: 30, region: 'us-central' },
};

let s3: S3Server;
let azurite: Azurite;
let gcs: GcsServer;
let src: string;
const proxies: FaultProxy[] = [];
const envs: TestEnv[] = [];

beforeAll(async () => {
  const started = await Promise.allSettled([
    startS3Server().then((x) => (s3 = x)),
    startAzurite().then((x) => (azurite = x)),
    startGcsServer().then((x) => (gcs = x)),
  ]);
  for (const r of started) if (r.status === 'rejected') throw r.reason;
  const t = await makeEnv('embedded');
  envs.push(t);
  src = path.join(t.dir, 'src');
  await makeTree(src, { seed: 7, smallFiles: 40, bigFiles: [2 * 1024 * 1024] });
});
afterAll(async () => {
  await Promise.all(envs.map((e) => e.cleanup()));
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all([s3?.close(), azurite?.close(), gcs?.close()]);
});

/** A location of `kind` behind a new fault proxy, in a bucket/container of its own. */
async function cloud(kind: Kind): Promise<Cloud> {
  const upstream = { s3: () => s3.endpoint, azure: () => `http://127.0.0.1:${azurite.port}`, gcs: () => gcs.url }[kind]();
  const proxy = await startFaultProxy(upstream);
  proxies.push(proxy);
  const tag = randomBytes(4).toString('hex');
  const name = `${kind}-${tag}`;
  const keys = {
    s3: { bucket_name: `px-${tag}`, endpoint: proxy.url, force_path_style: true, ...S3RVER_CREDENTIALS },
    azure: { container_name: `px-${tag}`, connection_string: azuriteConnectionString(`${proxy.url}/devstoreaccount1`) },
    gcs: { bucket_name: `px-${tag}`, project: 'test-project', api_endpoint: proxy.url },
  }[kind];
  return { kind, name, proxy, config: { name, type: kind, ...PLACEMENT[kind], ...keys } };
}

async function installation(kinds: Kind[], log?: (line: string) => void): Promise<{ t: TestEnv; engine: BackupEngine; clouds: Cloud[] }> {
  const clouds = await Promise.all(kinds.map(cloud));
  const t = await makeEnv('embedded', {
    replication_factor: 2,
    shard_size: 262144,
    cloud_retries: 3,
    storage_retry_backoff_seconds: 0.02,
    storage_timeout_seconds: 20,
    storage_locations: clouds.map((c) => c.config),
  });
  envs.push(t);
  const engine = log ? await BackupEngine.open(loadConfig(t.env), { log }) : await t.open();
  if (log) envs.push({ ...t, cleanup: () => engine.close() });
  return { t, engine, clouds };
}

/** Drops the connection of the `after`-th request from now on, and refuses every later one. */
function stopAfter(proxy: FaultProxy, after: number): void {
  let seen = 0;
  proxy.set({
    intercept: () => {
      if (++seen === after) void proxy.stop();
      return undefined;
    },
  });
}

async function okReplicasPerShard(engine: BackupEngine, id: string): Promise<number[]> {
  return (await engine.getShardMap(id)).map((s) => s.replicas.filter((r) => r.state === 'ok').length);
}

describe('multi-cloud replication (embedded catalog)', () => {
  it('RF 2 over S3, Azure and GCS: restores byte-identical with any one cloud stopped; verify says degraded', async () => {
    const { t, engine, clouds } = await installation(['s3', 'azure', 'gcs']);
    const b = await engine.createBackup({ paths: [src] });
    expect(b.status).toBe('completed');
    const map = await engine.getShardMap(b.backup_id);
    expect(map.length).toBeGreaterThan(4);
    // Exactly 2 distinct locations per shard, spread over regions: no shard has all its copies in one region.
    const regionOf = new Map(clouds.map((c) => [c.name, PLACEMENT[c.kind].region]));
    for (const s of map) {
      expect(s.replicas.length).toBe(2);
      expect(new Set(s.replicas.map((r) => r.location)).size).toBe(2);
      expect(new Set(s.replicas.map((r) => regionOf.get(r.location))).size).toBeGreaterThanOrEqual(2);
    }

    for (const c of clouds) {
      await c.proxy.stop();
      const target = path.join(t.dir, `restore-without-${c.kind}`);
      await engine.restoreBackup(b.backup_id, { target });
      expect(await treeDiff(src, target)).toEqual([]);
      // Degraded (never corrupted) when the stopped cloud holds replicas; placement by priority and region
      // may leave the third location without any shard of this backup, and then nothing is missing.
      const holds = map.some((s) => s.replicas.some((r) => r.location === c.name));
      const v = await engine.verifyBackup(b.backup_id);
      expect(v.status).toBe(holds ? 'degraded' : 'healthy');
      expect(v.lost_shards).toEqual([]);
      await c.proxy.start();
      expect((await engine.verifyBackup(b.backup_id)).status).toBe('healthy');
    }
  });

  it('a cloud lost half-way through a backup: completed with every shard on 2 locations, or failed clearly', async () => {
    const { t, engine, clouds } = await installation(['s3', 'azure', 'gcs']);
    stopAfter(clouds[0]!.proxy, 6);
    const run = await engine.createBackup({ paths: [src] }).then(
      (meta) => ({ meta, error: null }),
      (error: Error) => ({ meta: null, error }),
    );
    if (run.meta) {
      expect(run.meta.status).toBe('completed');
      const counts = await okReplicasPerShard(engine, run.meta.backup_id);
      expect(counts.length).toBeGreaterThan(0);
      expect(counts.filter((n) => n < 2)).toEqual([]);
      // The stopped cloud got some of the early shards, the others took over.
      expect(clouds[0]!.proxy.stats.requests).toBeGreaterThanOrEqual(6);
      const target = path.join(t.dir, 'restore-after-loss');
      await engine.restoreBackup(run.meta.backup_id, { target });
      expect(await treeDiff(src, target)).toEqual([]);
    } else {
      expect(run.error?.message).toMatch(/Storage location unavailable/);
      const [failed] = await engine.listBackups({ status: 'failed' });
      expect(failed).toBeDefined();
    }
    expect(await engine.countBackups({ status: 'running' })).toBe(0);
  });

  it('only 2 locations and RF 2: losing one fails the backup with "Storage location unavailable"', async () => {
    const { engine, clouds } = await installation(['s3', 'azure']);
    stopAfter(clouds[1]!.proxy, 4);
    await expect(engine.createBackup({ paths: [src] })).rejects.toThrow(/Failed to store shards for backup backup_\S+: Storage location unavailable/);
    const all = await engine.listBackups();
    expect(all.map((b) => b.status)).toEqual(['failed']);
    expect(all[0]!.error).toMatch(/Storage location unavailable/);
  });

  it('S3 answering 503 to 10% of requests: the backup completes, retries are counted and logged without secrets', async () => {
    const lines: string[] = [];
    const { engine, clouds } = await installation(['s3', 'azure', 'gcs'], (l) => lines.push(l));
    const s3Cloud = clouds[0]!;
    resetStorageRetryStats(s3Cloud.name);
    s3Cloud.proxy.set({ failureRate: 0.1, maxConsecutiveFailures: 2 });
    const b = await engine.createBackup({ paths: [src] });
    expect(b.status).toBe('completed');
    expect(s3Cloud.proxy.stats.injected).toBeGreaterThan(0);
    expect(storageRetryStats()[s3Cloud.name]?.retries).toBeGreaterThan(0);
    const retries = lines.filter((l) => l.startsWith(`storage retry ${s3Cloud.name} `));
    expect(retries.length).toBeGreaterThan(0);
    expect(retries[0]).toMatch(/ServiceUnavailable|unavailable/);
    for (const l of lines) {
      expect(l).not.toContain(AZURITE_KEY);
      expect(l).not.toContain(S3RVER_CREDENTIALS.secret_access_key);
    }
    expect((await okReplicasPerShard(engine, b.backup_id)).filter((n) => n < 2)).toEqual([]);
  });

  it('a corrupted replica in one cloud: verify names it and says degraded; restore works; repair heals', async () => {
    const { t, engine } = await installation(['s3', 'azure', 'gcs']);
    const b = await engine.createBackup({ paths: [src] });
    const victim = (await engine.getShardMap(b.backup_id)).find((s) => s.kind === 'data')!;
    const at = victim.replicas.find((r) => r.location.startsWith('azure-')) ?? victim.replicas[0]!;
    const backend = engine.locations.get(at.location)!.backend;
    const bytes = await backend.get(shardKey(victim.shard_id));
    bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
    await backend.put(shardKey(victim.shard_id), bytes);

    const v = await engine.verifyBackup(b.backup_id);
    expect(v.status).toBe('degraded');
    expect(v.bad_shards.map((s) => s.message)).toContain(`Shard checksum mismatch for ${victim.shard_id} at ${at.location}`);
    const target = path.join(t.dir, 'restore-corrupt');
    await engine.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
    const r = await engine.repairBackup(b.backup_id);
    expect(r.repaired).toContainEqual({ shard_id: victim.shard_id, location: at.location });
    expect(r.status).toBe('healthy');
    expect((await engine.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
  });

  it('read fail-over: restore with the preferred location (first replica of every shard) down', async () => {
    const { t, engine, clouds } = await installation(['s3', 'azure', 'gcs']);
    const b = await engine.createBackup({ paths: [src] });
    const map = await engine.getShardMap(b.backup_id);
    // The location restore reads first: the first recorded replica of the first shards.
    const first = clouds.find((c) => c.name === map[0]!.replicas[0]!.location)!;
    expect(map.filter((s) => s.replicas[0]!.location === first.name).length).toBeGreaterThan(0);
    await first.proxy.stop();
    const started = Date.now();
    const target = path.join(t.dir, 'restore-failover');
    const res = await engine.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
    expect(res.files_restored).toBeGreaterThan(40);
    expect(Date.now() - started).toBeLessThan(30_000);
    const loc = engine.locations.get(first.name)!;
    expect(engine.locations.healthy(loc)).toBe(false);
    expect((await engine.getStorageHealth()).find((h) => h.name === first.name)).toMatchObject({ reachable: false });
    // Answering again: the next health check (the monitor runs one every health_check_interval) clears it.
    await first.proxy.start();
    expect((await engine.getStorageHealth()).find((h) => h.name === first.name)).toMatchObject({ reachable: true });
    expect(engine.locations.healthy(loc)).toBe(true);
  });
});
