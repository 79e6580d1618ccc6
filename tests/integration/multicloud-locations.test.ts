/**
 * Console-managed storage locations: stored in the catalog with credentials sealed under the master key
 * (the raw row holds no credential text), listed masked through tRPC (admins only), probed against a real
 * Azurite, and merged with the config file's locations when the engine opens (the file wins on a clash).
 */
import { sql } from 'drizzle-orm';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { loadMasterKey } from '../../server/engine/keys/keys';
import { LocationStore } from '../../server/engine/storage/location-store';
import { openLocations } from '../../server/engine/setup';
import { createCallerFactory } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import type { Services } from '../../server/trpc/services/types';
import type { Role } from '../../db/schema';
import { AZURITE_KEY, startAzurite, type Azurite } from '../support/azurite';
import { makeEnv, type TestEnv } from '../support/engine-env';

const S3_SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY';
const S3_KEY_ID = 'AKIAIOSFODNN7EXAMPLE';

let azurite: Azurite;
let t: TestEnv;
let engine: BackupEngine;

beforeAll(async () => {
  azurite = await startAzurite();
  t = await makeEnv('embedded');
  engine = await t.open();
});
afterAll(async () => {
  await t?.cleanup();
  await azurite?.close();
});

const unused = async (): Promise<never> => {
  throw new Error('not used by these procedures');
};
function caller(role: Role) {
  const services: Services = { engine: async () => engine, users: unused, audit: unused };
  return createCallerFactory(appRouter)({ user: { id: `id-${role}`, email: `${role}@x.io`, name: null, role }, services });
}

describe('console-managed storage locations (embedded catalog)', () => {
  it('persists a location with its credentials sealed: the raw catalog row holds no credential text', async () => {
    const store = LocationStore.forInstallation(engine);
    await store.add({ name: 'azure-console', type: 'azure', priority: 30, region: 'eu-west', container_name: 'console-box', connection_string: azurite.connectionString });
    await store.add({ name: 's3-console', type: 's3', region: 'us-east-1', enabled: false, bucket_name: 'some-bucket', endpoint: 'http://127.0.0.1:9', force_path_style: true, access_key_id: S3_KEY_ID, secret_access_key: S3_SECRET });
    const rows = await engine.catalog.db.execute<Record<string, unknown>>(sql`SELECT * FROM storage_locations ORDER BY name`);
    expect(rows.rows.map((r) => r.name)).toEqual(['azure-console', 's3-console']);
    const raw = JSON.stringify(rows.rows);
    for (const secret of [AZURITE_KEY, azurite.connectionString, S3_SECRET, S3_KEY_ID, 'AccountKey']) expect(raw).not.toContain(secret);
    for (const r of rows.rows) expect(typeof r.secrets === 'string' && r.secrets.length > 40).toBe(true);
    expect(rows.rows[0]!.settings).toEqual({ container_name: 'console-box' });
    // The engine side opens them again.
    const opened = await store.configs();
    expect(opened.find((l) => l.name === 's3-console')).toMatchObject({ secret_access_key: S3_SECRET, access_key_id: S3_KEY_ID, enabled: false });
  });

  it('storage.listLocations returns masked values, and only to admins', async () => {
    const list = await caller('admin').storage.listLocations();
    expect(list.map((l) => [l.name, l.source])).toEqual([
      ['local-a', 'config'],
      ['local-b', 'config'],
      ['s3-console', 'console'],
      ['azure-console', 'console'],
    ]);
    const text = JSON.stringify(list);
    for (const secret of [AZURITE_KEY, S3_SECRET, S3_KEY_ID]) expect(text).not.toContain(secret);
    const s3 = list.find((l) => l.name === 's3-console')!;
    expect(s3.settings).toMatchObject({ secret_access_key: '••••EKEY', access_key_id: '••••MPLE', bucket_name: 'some-bucket' });
    expect(list.find((l) => l.name === 'azure-console')!.settings.connection_string).toBe('••••');
    expect(list.find((l) => l.name === 'azure-console')!.active).toBe(false);
    for (const role of ['operator', 'viewer'] as const) await expect(caller(role).storage.listLocations()).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('storage.testLocation probes a location (put/get/delete) and reports latency; failures carry no secrets', async () => {
    const ok = await caller('admin').storage.testLocation({ name: 'azure-console' });
    expect(ok).toMatchObject({ ok: true, error: null });
    expect(ok.latency_ms).toBeGreaterThan(0);
    const bad = await caller('admin').storage.testLocation({ name: 's3-console' });
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatch(/s3-console/);
    expect(bad.error).not.toContain(S3_SECRET);
    const wrongKey = azurite.connectionString.replace(AZURITE_KEY, Buffer.alloc(64, 7).toString('base64'));
    const denied = await caller('admin').storage.testLocation({ location: { name: 'draft', type: 'azure', container_name: 'draft-box', connection_string: wrongKey } });
    expect(denied.ok).toBe(false);
    expect(denied.error).not.toContain(Buffer.alloc(64, 7).toString('base64'));
  });

  it('update keeps masked credentials, disable turns a location off, and config-file names are refused', async () => {
    const admin = caller('admin');
    await admin.storage.updateLocation({ name: 's3-console', patch: { priority: 5, secret_access_key: '••••EKEY', enabled: true } });
    const s3 = (await LocationStore.forInstallation(engine).configs()).find((l) => l.name === 's3-console')!;
    expect(s3).toMatchObject({ priority: 5, secret_access_key: S3_SECRET, enabled: true });
    await expect(admin.storage.disableLocation({ name: 's3-console' })).resolves.toEqual({ name: 's3-console', enabled: false });
    // The caller surfaces engine errors as their cause; the HTTP error formatter maps them (CONFLICT → 409, INVALID → 400).
    await expect(admin.storage.addLocation({ name: 'local-a', type: 'local', path: '/tmp/x' })).rejects.toMatchObject({ cause: { code: 'CONFLICT' } });
    await expect(admin.storage.updateLocation({ name: 'local-a', patch: { priority: 1 } })).rejects.toMatchObject({ cause: { code: 'CONFLICT' } });
    await expect(admin.storage.addLocation({ name: 'bad', type: 's3', bucket_name: 'NO' })).rejects.toMatchObject({ cause: { code: 'INVALID', message: expect.stringMatching(/bucket_name/) } });
    await expect(caller('operator').storage.addLocation({ name: 'x', type: 'local', path: '/tmp/x' })).rejects.toMatchObject({ code: 'FORBIDDEN' });
  });

  it('at open, stored locations join the config file ones; the config file wins a name clash (logged)', async () => {
    const store = LocationStore.forInstallation(engine);
    // A stored location named like a config-file one (possible if the file gained it later).
    await engine.catalog.db.execute(sql`INSERT INTO storage_locations (name, type, settings, region) VALUES ('local-b', 'local', '{"path":"/nonexistent/clash"}', 'elsewhere')`);
    const lines: string[] = [];
    const master = loadMasterKey(engine.config.master_key_source, () => undefined);
    const set = await openLocations(engine.config, engine.catalog.db, (l) => lines.push(l), master);
    // Stored ones by priority: s3-console was moved to 5 above.
    expect(set.all.map((l) => l.name)).toEqual(['local-a', 'local-b', 's3-console', 'azure-console']);
    expect(set.get('local-b')!.config.path).not.toBe('/nonexistent/clash');
    expect(set.get('azure-console')!.config.connection_string).toBe(azurite.connectionString);
    expect(set.enabled().map((l) => l.name)).toEqual(['local-a', 'local-b', 'azure-console']);
    expect(lines).toContain('storage location "local-b" is defined both in the configuration file and in the console; using the configuration file\'s');
    expect(lines.join('\n')).not.toContain(AZURITE_KEY);
    await Promise.all(set.all.map((l) => l.backend.close()));
    expect((await store.list()).map((l) => l.name)).toContain('local-b');
  });

  it('the running engine applies console changes at once; another process picks them up on its next refresh', async () => {
    // The tRPC calls above (update, disable) already applied to this engine without a restart.
    expect(engine.locations.all.map((l) => l.name)).toEqual(['local-a', 'local-b', 's3-console', 'azure-console']);
    expect(engine.locations.get('s3-console')!.config).toMatchObject({ enabled: false, priority: 5 });
    expect((await caller('admin').storage.listLocations()).find((l) => l.name === 'azure-console')!.active).toBe(true);

    // Another process (its own engine) sees nothing new until the stored locations change.
    const other = await t.open();
    expect(await other.refreshLocations()).toBeNull();
    const localA = other.locations.get('local-a');
    const store = LocationStore.forInstallation(other);
    await store.add({ name: 'local-c', type: 'local', path: path.join(t.dir, 'local-c'), priority: 1, region: 'other-region' });
    expect(await engine.refreshLocations()).toEqual({ added: ['local-c'], changed: [], removed: [] });
    expect(await other.refreshLocations()).toEqual({ added: ['local-c'], changed: [], removed: [] });
    expect(other.locations.get('local-a')).toBe(localA); // unchanged locations keep their connections and health

    // New backups use the new location at once; disabling it applies just as fast.
    const b = await other.createBackup({ payload: 'placed on the new location '.repeat(2000) });
    const places = (await other.getShardMap(b.backup_id)).flatMap((sh) => sh.replicas.map((r) => r.location));
    expect(places).toContain('local-c');
    await store.setEnabled('local-c', false);
    expect(await other.refreshLocations()).toEqual({ added: [], changed: ['local-c'], removed: [] });
    const b2 = await other.createBackup({ payload: 'not on the disabled one '.repeat(2000) });
    expect((await other.getShardMap(b2.backup_id)).flatMap((sh) => sh.replicas.map((r) => r.location))).not.toContain('local-c');
    expect((await other.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
  });
});
