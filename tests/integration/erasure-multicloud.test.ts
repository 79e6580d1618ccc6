/**
 * Erasure coding 2+1 over real protocol servers — s3rver, Azurite and our GCS JSON-API server — one piece of
 * every shard on each; a cloud stopped (its proxy refusing connections): restore byte-identical, verify names
 * the unreachable pieces, and a catalog rebuilt from the two clouds left restores it too.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { azuriteConnectionString, startAzurite, type Azurite } from '../support/azurite';
import { treeDiff } from '../support/compare';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { startGcsServer, type GcsServer } from '../support/gcs-server';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../support/s3-server';
import { makeTree } from '../support/tree';

type Kind = 's3' | 'azure' | 'gcs';
let s3: S3Server;
let azurite: Azurite;
let gcs: GcsServer;
let src: string;
const proxies: FaultProxy[] = [];
const envs: TestEnv[] = [];

beforeAll(async () => {
  const started = await Promise.allSettled([startS3Server().then((x) => (s3 = x)), startAzurite().then((x) => (azurite = x)), startGcsServer().then((x) => (gcs = x))]);
  for (const r of started) if (r.status === 'rejected') throw r.reason;
  const t = await makeEnv('embedded');
  envs.push(t);
  src = path.join(t.dir, 'src');
  await makeTree(src, { seed: 21, smallFiles: 40, bigFiles: [1024 * 1024] });
});
afterAll(async () => {
  for (const e of envs.reverse()) await e.cleanup();
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all([s3?.close(), azurite?.close(), gcs?.close()]);
});

/** A location of `kind` behind a fault proxy (stop/start it to take the cloud away), in a bucket of its own. */
async function cloud(kind: Kind, priority: number) {
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
  return { kind, name, proxy, config: { name, type: kind, priority, region: kind, ...keys } };
}

const settings = (locations: unknown[], extra: Record<string, unknown> = {}) => ({
  shard_size: 262144,
  cloud_retries: 1,
  storage_retry_backoff_seconds: 0.02,
  storage_timeout_seconds: 20,
  storage_locations: locations,
  ...extra,
});

describe('erasure coding 2+1 over S3, Azure and GCS', () => {
  it('restores byte-identical with any one cloud stopped; verify names its pieces; recover-catalog works from the other two', async () => {
    const clouds = await Promise.all([cloud('s3', 10), cloud('azure', 20), cloud('gcs', 30)]);
    const t = await makeEnv('embedded', settings(clouds.map((c) => c.config), { erasure_coding: { data_shards: 2, parity_shards: 1 } }));
    envs.push(t);
    const engine = await t.open();
    const b = await engine.createBackup({ paths: [src] });
    expect(b.status).toBe('completed');
    const map = await engine.getShardMap(b.backup_id);
    for (const s of map) expect(s.replicas.map((r) => r.location).sort()).toEqual(clouds.map((c) => c.name).sort());

    for (const c of clouds) {
      await c.proxy.stop();
      const target = path.join(t.dir, `restore-without-${c.kind}`);
      await engine.restoreBackup(b.backup_id, { target });
      expect(await treeDiff(src, target)).toEqual([]);
      const v = await engine.verifyBackup(b.backup_id);
      expect(v.status).toBe('degraded');
      expect(v.lost_shards).toEqual([]);
      expect(v.bad_shards).toHaveLength(map.length);
      for (const bad of v.bad_shards) expect(bad).toMatchObject({ location: c.name, problem: 'unreadable', message: expect.stringMatching(new RegExp(`^Piece [0-2] of shard \\S+ unreadable at ${c.name}`)) });
      await c.proxy.start();
      expect((await engine.getStorageHealth()).find((h) => h.name === c.name)).toMatchObject({ reachable: true });
      expect((await engine.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
    }
    await engine.close();

    // The S3 provider is gone for good: a new installation over Azure and GCS only rebuilds its catalog from them.
    await clouds[0]!.proxy.stop();
    const fresh = await makeEnv('embedded', settings(clouds.slice(1).map((c) => c.config)), { PLEXICHAT_ENCRYPTION_KEY: t.env.PLEXICHAT_ENCRYPTION_KEY });
    envs.push(fresh);
    const other = await fresh.open();
    const rec = await other.rebuildCatalog();
    expect(rec).toMatchObject({ backups: 1, skipped_backups: [], damaged_objects: [] });
    expect(rec.damaged_backups).toEqual([expect.objectContaining({ backup_id: b.backup_id, status: 'degraded', lost_shards: [] })]);
    const target = path.join(fresh.dir, 'restored');
    await other.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
  });
});
