/**
 * Master-key rotation and key escrow, through the CLI as an operator runs them: every data key, the
 * repository's id key, the key objects and config.json on every location and the console's sealed secrets
 * end up under the new key; backups of every level still verify and restore byte for byte; the old key alone
 * no longer opens the repository; a process still holding the old key refuses to wrap new keys with it; an
 * escrow package opens only with its private key.
 */
import { generateKeyPairSync } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Env } from '../../server/config';
import { BackupEngine } from '../../server/engine/engine';
import { keyFingerprint } from '../../server/engine/keys/keys';
import { withQuorumShares } from '../../server/engine/keys/quorum';
import { LocationStore } from '../../server/engine/storage/location-store';
import { AlertService } from '../../server/monitoring/alert-service';
import { alertsFor } from '../../server/monitoring/hooks';
import { runCli } from '../support/cli';
import { treeDiff } from '../support/compare';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const envs: TestEnv[] = [];
afterAll(async () => Promise.all(envs.map((e) => e.cleanup())));

const open = async (env: Env) => BackupEngine.open(loadConfig(env), { log: () => undefined });
const without = (env: Env, key: string): Env => Object.fromEntries(Object.entries(env).filter(([k]) => k !== key));

async function keyObjects(storageRoot: string): Promise<{ kekId: string; id: string }[]> {
  const out = [];
  for (const loc of await readdir(storageRoot)) {
    for (const f of await readdir(path.join(storageRoot, loc, 'keys')).catch(() => [])) out.push(JSON.parse(await readFile(path.join(storageRoot, loc, 'keys', f), 'utf8')) as { kekId: string; id: string });
  }
  return out;
}

describe('master key rotation with a generated key file', () => {
  let t: TestEnv;
  let env: Env;
  let src: string;
  const backups: string[] = [];
  let oldKey = '';
  let shares: string[] = [];

  beforeAll(async () => {
    t = await makeEnv('embedded');
    envs.push(t);
    // The key lives in key_file (PLEXICHAT_KEY_FILE); HIGH and MAXIMUM also need their second factor and a quorum.
    env = { ...without(t.env, 'PLEXICHAT_ENCRYPTION_KEY'), PLEXICHAT_HIGH_PASSPHRASE: 'rotation test passphrase' };
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 3, smallFiles: 60, bigFiles: [1024 * 1024] });
    const e = await open(env);
    shares = (await e.initKeyQuorum(2, 3)).shares;
    for (const securityLevel of ['standard', 'high', 'maximum'] as const) backups.push((await e.createBackup({ paths: [src], securityLevel })).backup_id);
    // Secrets the console sealed under the master key.
    await LocationStore.forInstallation(e).add({ name: 's3-off', type: 's3', enabled: false, region: 'x', bucket_name: 'b-k', endpoint: 'http://127.0.0.1:9', force_path_style: true, access_key_id: 'AKIAROTATE', secret_access_key: 'rotate-me-secret' });
    await new AlertService(e.catalog.db, e.config).updateSettings({ email: { enabled: true, recipients: ['ops@x.io'], password: 'smtp-secret-rot' } }, 'admin@x.io');
    await e.close();
    oldKey = (await readFile(t.env.PLEXICHAT_KEY_FILE!, 'utf8')).trim();
  });

  it('re-wraps every key and secret under a new key; backups of every level verify and restore', async () => {
    const oldId = keyFingerprint(Buffer.from(oldKey, 'hex'));
    const holder = await open(env); // a long-running process (a console) opened before the rotation
    const r = await runCli(['keys', 'rotate', '--json'], env);
    expect(r.code, r.stderr).toBe(0);
    const newKey = (await readFile(t.env.PLEXICHAT_KEY_FILE!, 'utf8')).trim();
    const newId = keyFingerprint(Buffer.from(newKey, 'hex'));
    expect(newId).not.toBe(oldId);
    expect(r.json).toMatchObject({ master_key: newId, previous_keys: [oldId], complete: true, data_keys: { rewrapped: 4, hsm: 0 }, repository_config: { failed: [] }, key_objects: { failed: [] } });
    await expect(readFile(`${t.env.PLEXICHAT_KEY_FILE!}.previous`)).rejects.toThrow(); // dropped once complete

    // Storage holds nothing wrapped by the old key: key objects and every config.json.
    expect((await keyObjects(t.config.storage_root)).every((k) => k.kekId === newId)).toBe(true);
    for (const loc of await readdir(t.config.storage_root)) {
      expect(JSON.parse(await readFile(path.join(t.config.storage_root, loc, 'config.json'), 'utf8')).id_key.kekId).toBe(newId);
    }

    const e = await open(env);
    try {
      // MAXIMUM was re-sealed without any share; reading it takes 2 of the 3.
      await withQuorumShares(shares.slice(1), async () => {
        for (const id of backups) expect((await e.verifyBackup(id, { readData: true })).status).toBe('healthy');
      });
      const target = path.join(t.dir, 'restored-max');
      await withQuorumShares([shares[0]!, shares[2]!], () => e.restoreBackup(backups[2]!, { target }));
      expect(await treeDiff(src, target)).toEqual([]);
      const loc = (await LocationStore.forInstallation(e).configs()).find((l) => l.name === 's3-off');
      expect(loc).toMatchObject({ secret_access_key: 'rotate-me-secret' });
      const alerts = new AlertService(e.catalog.db, e.config, { log: () => undefined });
      await alerts.refresh(true);
      expect([alerts.origin.source, alerts.settings.email.password]).toEqual(['console', 'smtp-secret-rot']);
      // New backups are wrapped by the new key.
      const countBefore = (await keyObjects(t.config.storage_root)).length;
      expect((await e.createBackup({ payload: 'after the rotation' })).status).toBe('completed');
      const objects = await keyObjects(t.config.storage_root);
      expect(objects.length).toBeGreaterThan(countBefore);
      expect(objects.every((k) => k.kekId === newId)).toBe(true);
    } finally {
      await e.close();
    }

    // The process opened before the rotation follows it: it takes the new key from the file, keeps opening the
    // re-sealed console secrets (alerts, location credentials) and wraps new keys with the new master.
    try {
      const alerts = alertsFor(holder);
      await alerts.refresh(true);
      expect([alerts.origin.source, alerts.settings.email.password]).toEqual(['console', 'smtp-secret-rot']);
      await holder.refreshLocations(true);
      expect(holder.locations.get('s3-off')?.config).toMatchObject({ secret_access_key: 'rotate-me-secret' });
      expect((await holder.createBackup({ payload: 'from the long-running process' })).status).toBe('completed');
      expect(holder.masterKeys.current).toBe(newId);
      expect((await keyObjects(t.config.storage_root)).every((k) => k.kekId === newId)).toBe(true);
    } finally {
      await holder.close();
    }

    // The old key alone no longer opens the repository.
    const stale = await runCli(['list', '--json'], { ...env, PLEXICHAT_ENCRYPTION_KEY: oldKey });
    expect(stale.code).toBe(2);
    expect(stale.stderr).toMatch(/master key does not open this repository/);

    const status = await runCli(['keys', 'status', '--json'], env);
    expect(status.json).toMatchObject({ master_key: newId, previous_keys: [], rotation_due: false, rotation_unfinished: false, data_keys_by_master: { [newId]: 6 } });
  });

  it('resumes a rotation interrupted after the key swap', async () => {
    // As if a run died right after writing the new key file: master.key is new, master.key.previous holds the old one.
    const current = (await readFile(t.env.PLEXICHAT_KEY_FILE!, 'utf8')).trim();
    const next = 'ab'.repeat(32);
    await writeFile(`${t.env.PLEXICHAT_KEY_FILE!}.previous`, `${current}\n`, { mode: 0o600 });
    await writeFile(t.env.PLEXICHAT_KEY_FILE!, `${next}\n`, { mode: 0o600 });
    const r = await runCli(['keys', 'rotate'], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Resumed an unfinished rotation[\s\S]*Rotation complete/);
    const e = await open(env);
    try {
      expect(e.masterKeys).toEqual({ current: keyFingerprint(Buffer.from(next, 'hex')), previous: [] });
      expect((await e.verifyBackup(backups[0]!, { readData: true })).status).toBe('healthy');
    } finally {
      await e.close();
    }
  });
});

describe('master key rotation with PLEXICHAT_ENCRYPTION_KEY', () => {
  it('rotates with the new key current and the old one previous; a process still on the old key refuses new backups', async () => {
    const t = await makeEnv('embedded');
    envs.push(t);
    const k1 = t.env.PLEXICHAT_ENCRYPTION_KEY!;
    const k2 = 'cd'.repeat(32);
    const holder = await open(t.env); // a long-running process on the old key
    const before = await holder.createBackup({ payload: 'made under k1' });

    const nothing = await runCli(['keys', 'rotate', '--json'], t.env);
    expect(nothing.json).toMatchObject({ nothing_to_do: true });
    const rotated = await runCli(['keys', 'rotate', '--json'], { ...t.env, PLEXICHAT_ENCRYPTION_KEY: k2, PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS: k1 });
    expect(rotated.code, rotated.stderr).toBe(0);
    expect(rotated.json).toMatchObject({ complete: true, master_key: keyFingerprint(Buffer.from(k2, 'hex')) });

    await expect(holder.createBackup({ payload: 'still under k1?' })).rejects.toThrow(/The master key was rotated to mk-[0-9a-f]+, but this process still uses mk-[0-9a-f]+: set PLEXICHAT_ENCRYPTION_KEY/);
    await holder.close();

    const after = await open({ ...t.env, PLEXICHAT_ENCRYPTION_KEY: k2 });
    try {
      expect((await after.verifyBackup(before.backup_id, { readData: true })).status).toBe('healthy');
      expect((await after.createBackup({ payload: 'under k2' })).status).toBe('completed');
    } finally {
      await after.close();
    }
  });
});

describe('key escrow', () => {
  it('seals the master key to an RSA public key; only the matching private key opens it, and tampering is detected', async () => {
    const t = await makeEnv('embedded');
    envs.push(t);
    const pair = generateKeyPairSync('rsa', { modulusLength: 3072, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const other = generateKeyPairSync('rsa', { modulusLength: 3072, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const weak = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    const file = (name: string, text: string) => writeFile(path.join(t.dir, name), text).then(() => path.join(t.dir, name));
    const pub = await file('escrow.pub.pem', pair.publicKey);
    const priv = await file('escrow.key.pem', pair.privateKey);
    const out = path.join(t.dir, 'escrow.json');

    // Escrow export reads an installation; it does not create one (exit 4 where there is none).
    expect((await runCli(['keys', 'escrow', 'export', '--public-key', pub, '--out', out], t.env)).code).toBe(4);
    await (await t.open()).close();
    const exported = await runCli(['keys', 'escrow', 'export', '--public-key', pub, '--out', out], t.env);
    expect(exported.code, exported.stderr).toBe(0);
    const pkg = await readFile(out, 'utf8');
    expect(pkg).not.toContain(t.env.PLEXICHAT_ENCRYPTION_KEY!);
    const opened = await runCli(['keys', 'escrow', 'open', '--in', out, '--private-key', priv], t.env);
    expect(opened.code, opened.stderr).toBe(0);
    expect(opened.stdout.trim()).toBe(t.env.PLEXICHAT_ENCRYPTION_KEY!.toLowerCase());

    const wrong = await runCli(['keys', 'escrow', 'open', '--in', out, '--private-key', await file('other.pem', other.privateKey)], t.env);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/does not open the escrow package/);
    const doc = JSON.parse(pkg) as { ciphertext: string };
    const flipped = Buffer.from(doc.ciphertext, 'base64');
    flipped[3] = flipped[3]! ^ 1;
    const tampered = await file('tampered.json', JSON.stringify({ ...doc, ciphertext: flipped.toString('base64') }));
    const bad = await runCli(['keys', 'escrow', 'open', '--in', tampered, '--private-key', priv], t.env);
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/damaged or was altered/);
    const short = await runCli(['keys', 'escrow', 'export', '--public-key', await file('weak.pem', weak.publicKey)], t.env);
    expect(short.code).toBe(2);
    expect(short.stderr).toMatch(/at least 3072 bits/);
  }, 400_000); // seven CLI processes and an engine open, each a second or more; far more on a loaded machine
});
