/**
 * Security levels HIGH and MAXIMUM add real protection (docs/security-levels.md): HIGH needs a second factor
 * (passphrase or key file) besides the master key; MAXIMUM needs that for writing, and k of n key holders'
 * shares for reading. Old (v1) wrappings still restore and upgrade to v2. recover-catalog works per level.
 */
import { createCipheriv, pbkdf2Sync, randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { dataKeys } from '../../db/schema';
import { KeyRing } from '../../server/engine/keys/keys';
import { loadSecondFactor } from '../../server/engine/keys/second-factor';
import { wrappedFromRow } from '../../server/engine/setup';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Env } from '../../server/config';
import { BackupEngine } from '../../server/engine/engine';
import { withQuorumShares } from '../../server/engine/keys/quorum';
import { createSchedule } from '../../server/jobs/schedule-store';
import { ScheduleWorker } from '../../server/jobs/worker';
import { listAlerts } from '../../server/monitoring/alert-store';
import { alertsFor } from '../../server/monitoring/hooks';
import { runCli } from '../support/cli';
import { treeDiff } from '../support/compare';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const PASS = 'correct horse battery staple';
const envs: TestEnv[] = [];
const engines: BackupEngine[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close().catch(() => undefined)));
  await Promise.all(envs.map((e) => e.cleanup()));
});

async function open(env: Env): Promise<BackupEngine> {
  const e = await BackupEngine.open(loadConfig(env), { log: () => undefined });
  engines.push(e);
  return e;
}

async function keyObject(storageRoot: string, id: string): Promise<{ wrapped: string; kekId: string }> {
  return JSON.parse(await readFile(path.join(storageRoot, 'local-a', 'keys', `${id}.json`), 'utf8')) as { wrapped: string; kekId: string };
}

describe('security levels HIGH and MAXIMUM', () => {
  let t: TestEnv;
  let src: string;
  let withPass: Env;
  let shares: string[];
  const made: Record<'standard' | 'high' | 'maximum', string> = { standard: '', high: '', maximum: '' };

  beforeAll(async () => {
    t = await makeEnv('embedded');
    envs.push(t);
    withPass = { ...t.env, PLEXICHAT_HIGH_PASSPHRASE: PASS };
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 14, smallFiles: 40, bigFiles: [600 * 1024] });
  });

  it('HIGH: round-trips byte-identical with the second factor; without it or with the wrong one, a clear error', async () => {
    const noFactor = await open(t.env);
    await expect(noFactor.createBackup({ paths: [src], securityLevel: 'high' })).rejects.toThrow(/HIGH needs the second factor.*PLEXICHAT_HIGH_PASSPHRASE/);
    const std = await noFactor.createBackup({ paths: [src], securityLevel: 'standard' }); // other levels keep working
    expect(std.status).toBe('completed');
    made.standard = std.backup_id;

    const e = await open(withPass);
    const b = await e.createBackup({ paths: [src], securityLevel: 'high' });
    made.high = b.backup_id;
    const w = await keyObject(t.config.storage_root, await keyIdOf(e, b.backup_id));
    expect(w.wrapped.startsWith('v2.')).toBe(true);
    const target = path.join(t.dir, 'r-high');
    await e.restoreBackup(b.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);

    // A fresh process without the factor: restore fails naming it; with the wrong one: a clear error, no data.
    const again = await open(t.env);
    await expect(again.restoreBackup(b.backup_id, { target: path.join(t.dir, 'r-high-none') })).rejects.toThrow(/second factor.*not configured.*PLEXICHAT_HIGH_PASSPHRASE/);
    const wrong = await open({ ...t.env, PLEXICHAT_HIGH_PASSPHRASE: 'incorrect horse battery' });
    await expect(wrong.restoreBackup(b.backup_id, { target: path.join(t.dir, 'r-high-wrong') })).rejects.toThrow(/second factor configured here \(PLEXICHAT_HIGH_PASSPHRASE\) is not the one it was wrapped with/);
    expect(await readdir(path.join(t.dir, 'r-high-wrong')).catch(() => [])).toEqual([]);
    // ...and a backup with the wrong factor is refused before it writes under it.
    await expect(wrong.createBackup({ paths: [src], securityLevel: 'high' })).rejects.toThrow(/not the one it was wrapped with/);
  });

  it('HIGH with a key file: refused inside data_dir; works from elsewhere', async () => {
    expect(() => loadConfig({ ...t.env, PLEXICHAT_HIGH_KEY_FILE: path.join(t.config.data_dir, 'high.key') })).toThrow(/high_key_file .* is inside .*beside the data it protects/);
    const keyFile = path.join(t.dir, 'high.key');
    await writeFile(keyFile, randomBytes(32), { mode: 0o600 });
    const u = await makeEnv('embedded', {}, { PLEXICHAT_HIGH_KEY_FILE: keyFile });
    envs.push(u);
    const e = await open(u.env);
    const b = await e.createBackup({ paths: [src], securityLevel: 'high' });
    await e.restoreBackup(b.backup_id, { target: path.join(u.dir, 'r') });
    expect(await treeDiff(src, path.join(u.dir, 'r'))).toEqual([]);
    await writeFile(keyFile, randomBytes(32)); // another file
    const other = await open(u.env);
    await expect(other.restoreBackup(b.backup_id, { target: path.join(u.dir, 'r2') })).rejects.toThrow(/key file .*high\.key\) is not the one/);
  });

  it('MAXIMUM: backups run unattended without shares; restore needs k shares (k-1 refused)', async () => {
    const e = await open(withPass);
    await expect(e.createBackup({ paths: [src], securityLevel: 'maximum' })).rejects.toThrow(/MAXIMUM needs a key-holder quorum.*keys quorum init/);
    const q = await runCli(['keys', 'quorum', 'init', '--threshold', '3', '--holders', '5', '--json'], withPass);
    expect(q.code, q.stderr).toBe(0);
    shares = (q.json as { shares: string[] }).shares;
    expect(shares).toHaveLength(5);

    const b = await e.createBackup({ paths: [src], securityLevel: 'maximum' }); // no share anywhere
    made.maximum = b.backup_id;
    const inc = await e.createBackup({ paths: [src], securityLevel: 'maximum', backupType: 'incremental' });
    expect(inc.status).toBe('completed');
    await expect(e.restoreBackup(b.backup_id, { target: path.join(t.dir, 'r-max-0') })).rejects.toThrow(/needs the key holders' quorum/);
    await expect(withQuorumShares([shares[0]!, shares[3]!], async () => undefined)).rejects.toThrow(/needs 3 shares of different key holders \(of 5\); only 2 given/);
    await expect(withQuorumShares([shares[1]!, shares[1]!, shares[4]!], async () => undefined)).rejects.toThrow(/only 2 given/);
    const target = path.join(t.dir, 'r-max');
    await withQuorumShares([shares[4]!, shares[0]!, shares[2]!], () => e.restoreBackup(inc.backup_id, { target }));
    expect(await treeDiff(src, target)).toEqual([]);
    // The shares lived for that operation only: the same process needs them again.
    await expect(e.restoreBackup(inc.backup_id, { target: path.join(t.dir, 'r-max-2') })).rejects.toThrow(/quorum/);

    // Through the CLI: k-1 shares refused (exit 2, names how many), k shares restore byte for byte.
    const few = await runCli(['restore', b.backup_id, '--target', path.join(t.dir, 'c-few'), '--share', shares[0]!, '--share', shares[1]!], withPass);
    expect(few.code).not.toBe(0);
    expect(few.stderr).toMatch(/needs 3 shares .* only 2 given/);
    const ok = await runCli(['restore', b.backup_id, '--target', path.join(t.dir, 'c-ok'), '--share', shares[0]!, '--share', shares[1]!, '--share', shares[2]!], withPass);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await treeDiff(src, path.join(t.dir, 'c-ok'))).toEqual([]);
    // A damaged share is named, never a wrong key.
    const bad = shares[2]!.slice(0, -8) + 'AAAAAAAA';
    await expect(withQuorumShares([shares[0]!, shares[1]!, bad], async () => undefined)).rejects.toThrow(/not a PlexiChat quorum share|do not reassemble/);
  });

  it('MAXIMUM: a scheduled drill without shares is skipped (reason, no alert); with k shares it passes, also from the CLI', async () => {
    const e = await open(withPass);
    // The newest backup of src is the MAXIMUM incremental above: the drill schedule picks it.
    const t0 = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000);
    let now = t0.getTime();
    await createSchedule(e.catalog.db, { name: 'drill-max', cron: '* * * * *', paths: [src], backupType: 'drill' }, new Date(now));
    const w = new ScheduleWorker(e, { now: () => new Date(now), events: alertsFor(e) });
    now += 61_000;
    const [out] = await w.runOnce();
    expect(out).toMatchObject({ schedule: 'drill-max', status: 'completed', error: null });
    const [skipped] = await e.listDrills({ limit: 1 });
    expect(skipped).toMatchObject({ backup_id: out!.backup_id, status: 'skipped', rto_seconds: null, actor: 'schedule:drill-max' });
    expect(skipped!.error).toContain(`needs the key holders' quorum (MAXIMUM): run \`plexichat-backup drill run --backup ${out!.backup_id} --share …\``);
    expect((await listAlerts(e.catalog.db, { states: ['open'] })).filter((a) => a.rule.startsWith('drill_'))).toEqual([]);

    // With k shares the same drill restores and compares everything.
    const ok = await withQuorumShares(shares.slice(1, 4), () => e.runDrill({ backupId: made.maximum }));
    expect(ok).toMatchObject({ status: 'passed', error: null });
    expect(ok.files_checked).toBeGreaterThan(40);

    const cli = await runCli(['drill', 'run', '--backup', made.maximum, '--share', shares[0]!, '--share', shares[2]!, '--share', shares[4]!, '--json'], withPass);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.json).toEqual([expect.objectContaining({ backup_id: made.maximum, status: 'passed' })]);
    const bare = await runCli(['drill', 'run', '--backup', made.maximum], withPass);
    expect(bare.code, bare.stderr).toBe(0);
    expect(bare.stdout).toMatch(/^SKIPPED {2}drill .*\n[^]*needs the key holders' quorum \(MAXIMUM\)/);
    expect((await listAlerts(e.catalog.db, { states: ['open'] })).filter((a) => a.rule.startsWith('drill_'))).toEqual([]);
  });

  it('an old-format (v1) HIGH key restores without the factor, and keys upgrade moves it to v2', async () => {
    const e = await open(withPass);
    const oldSrc = path.join(t.dir, 'old-src'); // data of its own: no shard shared (deduplicated) with other HIGH backups
    await makeTree(oldSrc, { seed: 1401, smallFiles: 20 });
    const b = await e.createBackup({ paths: [oldSrc], securityLevel: 'high' });
    const keyId = await keyIdOf(e, b.backup_id);
    // Rewrite the key the way the code before v2 wrote it: AES-256-GCM under PBKDF2(master, salt‖"high", 100,000).
    const master = Buffer.from(t.env.PLEXICHAT_ENCRYPTION_KEY!, 'hex');
    const [repo] = (await e.catalog.db.execute<{ salt: string }>(`SELECT value->>'kdf_salt' AS salt FROM settings WHERE key = 'repository'`)).rows;
    const salt = Buffer.from(repo!.salt, 'hex');
    const ring = new KeyRing(master, salt);
    ring.setSecondFactor(loadSecondFactor({ kind: 'env', value: PASS }));
    const [krow] = await e.catalog.db.select().from(dataKeys).where(eq(dataKeys.id, keyId));
    const dataKey = await ring.unwrap(wrappedFromRow(krow!));
    const kek = pbkdf2Sync(master, Buffer.concat([salt, Buffer.from('high')]), 100_000, 32, 'sha256');
    const nonce = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', kek, nonce);
    c.setAAD(Buffer.from(keyId));
    const v1 = Buffer.concat([nonce, c.update(dataKey), c.final(), c.getAuthTag()]).toString('base64');
    await e.catalog.db.update(dataKeys).set({ wrappedKey: v1 }).where(eq(dataKeys.id, keyId));

    const old = await open(t.env); // no second factor: v1 keys open with the master key alone
    await old.restoreBackup(b.backup_id, { target: path.join(t.dir, 'r-v1') });
    expect(await treeDiff(oldSrc, path.join(t.dir, 'r-v1'))).toEqual([]);

    const up = await runCli(['keys', 'upgrade', '--json'], withPass);
    expect(up.code, up.stderr).toBe(0);
    const [row] = (await e.catalog.db.execute<{ wrapped_key: string }>(`SELECT wrapped_key FROM data_keys WHERE id = '${keyId}'`)).rows;
    expect(row!.wrapped_key.startsWith('v2.')).toBe(true);
    expect((await keyObject(t.config.storage_root, keyId)).wrapped.startsWith('v2.')).toBe(true);
    const after = await open(t.env);
    await expect(after.restoreBackup(b.backup_id, { target: path.join(t.dir, 'r-v1-after') })).rejects.toThrow(/second factor/);
  });

  it('key rotation keeps every level readable; recover-catalog rebuilds each level (MAXIMUM with shares)', async () => {
    const lastKey = randomBytes(32).toString('hex');
    const rotated = { ...withPass, PLEXICHAT_ENCRYPTION_KEY: lastKey };
    const maxIds = await listIds(withPass, 'maximum');
    expect(maxIds.length).toBe(2);
    const rot = await runCli(['keys', 'rotate', '--json'], { ...rotated, PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS: t.env.PLEXICHAT_ENCRYPTION_KEY });
    expect(rot.code, rot.stderr).toBe(0);
    expect(rot.json).toMatchObject({ complete: true, data_keys: { failed: [] } });
    // MAXIMUM keys were re-sealed without any share: only their outer layer depends on the master key.
    const restoredAfterRotation = path.join(t.dir, 'r-rotated');
    await withQuorumShares(shares.slice(2), async () => (await open(rotated)).restoreBackup(maxIds[0]!, { target: restoredAfterRotation }));
    expect(await treeDiff(src, restoredAfterRotation)).toEqual([]);

    // A new catalog over the same storage: recover-catalog with and without the quorum's shares.
    const locations = ['local-a', 'local-b'].map((name) => ({ name, type: 'local', path: path.join(t.config.storage_root, name) }));
    const n = await makeEnv('embedded', { storage_locations: locations }, { PLEXICHAT_ENCRYPTION_KEY: lastKey, PLEXICHAT_HIGH_PASSPHRASE: PASS });
    envs.push(n);
    const first = await runCli(['recover-catalog', '--skip-catalog-snapshot', '--json'], n.env);
    expect(first.code, first.stderr).toBe(3); // incomplete until the shares are given: named, not damaged
    const r1 = first.json as { skipped_backups: { backup_id: string; reason: string }[]; damaged_objects: string[] };
    expect(r1.skipped_backups.map((s) => s.backup_id).sort()).toEqual(maxIds.sort());
    expect(r1.skipped_backups[0]!.reason).toMatch(/sealed to the key holders' quorum/);
    expect(r1.damaged_objects).toEqual([]);
    const second = await runCli(['recover-catalog', '--skip-catalog-snapshot', '--json', '--share', shares[1]!, '--share', shares[3]!, '--share', shares[4]!], n.env);
    expect(second.code, second.stderr).toBe(0);
    expect((second.json as { skipped_backups: unknown[] }).skipped_backups).toEqual([]);

    const e = await open(n.env);
    for (const level of ['standard', 'high', 'maximum'] as const) {
      const id = made[level];
      const target = path.join(n.dir, `r-${level}`);
      await withQuorumShares(level === 'maximum' ? shares.slice(0, 3) : undefined, () => e.restoreBackup(id, { target }));
      expect(await treeDiff(src, target), level).toEqual([]);
    }
  }, 600_000);
});

async function keyIdOf(e: BackupEngine, backupId: string): Promise<string> {
  const r = await e.catalog.db.execute<{ key_id: string }>(`SELECT key_id FROM backups WHERE id = '${backupId}'`);
  return r.rows[0]!.key_id;
}

async function listIds(env: Env, level: string): Promise<string[]> {
  const r = await runCli(['list', '--all', '--json'], env);
  return (r.json as { backup_id: string; security_level: string; status: string }[]).filter((b) => b.security_level === level && b.status === 'completed').map((b) => b.backup_id);
}
