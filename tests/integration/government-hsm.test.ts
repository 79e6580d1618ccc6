/**
 * Security level GOVERNMENT against a real PKCS#11 token (Debian's SoftHSM 2): the key-encryption key is
 * generated inside the token, sensitive and not extractable; GOVERNMENT data keys are wrapped by the token;
 * backups verify and restore byte for byte; without the HSM, or with a wrong PIN, the error says what to set.
 */
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { eq } from 'drizzle-orm';
import * as pkcs11js from 'pkcs11js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataKeys } from '../../db/schema';
import { ConfigError, loadConfig } from '../../server/config';
import type { BackupEngine } from '../../server/engine/engine';
import { KeyRing } from '../../server/engine/keys/keys';
import { runCli } from '../support/cli';
import { treeDiff } from '../support/compare';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const TOKEN = 'px-gov-test';
const PIN = '461-pin-7';
const KEY_LABEL = 'plexichat-kek';

let t: TestEnv;
let engine: BackupEngine;
let src: string;
let hsmEnv: Record<string, string>;
const logs: string[] = [];

beforeAll(async () => {
  // A SoftHSM token of our own: its config and token directory under the test's directory.
  t = await makeEnv('embedded');
  const dir = path.join(t.dir, 'softhsm');
  await mkdir(path.join(dir, 'tokens'), { recursive: true });
  await writeFile(path.join(dir, 'softhsm2.conf'), `directories.tokendir = ${path.join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
  process.env.SOFTHSM2_CONF = path.join(dir, 'softhsm2.conf');
  await promisify(execFile)('softhsm2-util', ['--init-token', '--free', '--label', TOKEN, '--pin', PIN, '--so-pin', '0000-so'], { env: process.env });
  hsmEnv = { SOFTHSM2_CONF: process.env.SOFTHSM2_CONF, PLEXICHAT_HSM_MODULE: MODULE, PLEXICHAT_HSM_TOKEN_LABEL: TOKEN, PLEXICHAT_HSM_PIN: PIN };
  const { BackupEngine } = await import('../../server/engine/engine');
  engine = await BackupEngine.open(loadConfig({ ...t.env, ...hsmEnv }), { log: (l) => logs.push(l) });
  src = path.join(t.dir, 'src');
  await makeTree(src, { seed: 77, smallFiles: 150, bigFiles: [3 * 1024 * 1024], unicode: true });
});
afterAll(async () => {
  await engine?.close();
  await t?.cleanup();
});

describe('security level GOVERNMENT with an HSM (SoftHSM over PKCS#11)', () => {
  let backupId = '';

  it('backs up with a data key wrapped inside the token, verifies and restores byte for byte', async () => {
    expect(logs.join('\n')).toMatch(/generated the GOVERNMENT key-encryption key "plexichat-kek" inside HSM module/);
    const b = await engine.createBackup({ paths: [src], securityLevel: 'government' });
    backupId = b.backup_id;
    expect(b).toMatchObject({ status: 'completed', security_level: 'government' });
    const [key] = await engine.catalog.db.select().from(dataKeys).where(eq(dataKeys.securityLevel, 'government'));
    expect(key).toMatchObject({ algorithm: 'aes-256-gcm', kekId: expect.stringMatching(/^hsm-[0-9a-f]{16}$/) });

    // The master key alone cannot open it: only the token can.
    const withoutHsm = new KeyRing(Buffer.alloc(32, 1), Buffer.alloc(16));
    await expect(withoutHsm.unwrap({ id: key!.id, securityLevel: 'government', algorithm: 'aes-256-gcm', wrapped: key!.wrappedKey, kekId: key!.kekId })).rejects.toThrow(/needs a hardware security module/);

    expect((await engine.verifyBackup(backupId, { readData: true })).status).toBe('healthy');
    const target = path.join(t.dir, 'restored');
    await engine.restoreBackup(backupId, { target });
    expect(await treeDiff(src, target)).toEqual([]);
  });

  it('keeps the key-encryption key inside the token: sensitive, not extractable, its value unreadable', () => {
    // The engine of this process has the module initialised and the token logged in: this session shares both.
    const p11 = new pkcs11js.PKCS11();
    p11.load(MODULE);
    expect(() => p11.C_Initialize()).toThrow(/CKR_CRYPTOKI_ALREADY_INITIALIZED/);
    {
      const slot = p11.C_GetSlotList(true).find((s) => p11.C_GetTokenInfo(s).label.trim() === TOKEN)!;
      const session = p11.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION);
      p11.C_FindObjectsInit(session, [{ type: pkcs11js.CKA_LABEL, value: KEY_LABEL }]);
      const found = p11.C_FindObjects(session, 5);
      p11.C_FindObjectsFinal(session);
      expect(found).toHaveLength(1);
      const [extractable, sensitive] = p11.C_GetAttributeValue(session, found[0]!, [{ type: pkcs11js.CKA_EXTRACTABLE }, { type: pkcs11js.CKA_SENSITIVE }]);
      expect([extractable!.value, sensitive!.value]).toEqual([Buffer.from([0]), Buffer.from([1])]);
      expect(() => p11.C_GetAttributeValue(session, found[0]!, [{ type: pkcs11js.CKA_VALUE }])).toThrow(/CKR_ATTRIBUTE_SENSITIVE/);
      p11.C_CloseSession(session);
    }
  });

  it('another process restores with the same token key; without the HSM or with a wrong PIN it says what to set', async () => {
    const env = { ...t.env, ...hsmEnv };
    const target = path.join(t.dir, 'restored-cli');
    const ok = await runCli(['restore', backupId, '--target', target, '--json'], env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await treeDiff(src, target)).toEqual([]);
    expect(ok.stderr).not.toMatch(/generated the GOVERNMENT key/); // the existing key was found, not replaced

    const noHsm = await runCli(['restore', backupId, '--target', path.join(t.dir, 'nohsm'), '--json'], t.env);
    expect(noHsm.code).toBe(2);
    expect(noHsm.stderr).toMatch(/GOVERNMENT needs a hardware security module.*PLEXICHAT_HSM_MODULE/);
    const newBackup = await runCli(['backup', src, '--security-level', 'government', '--json'], t.env);
    expect(newBackup.code).toBe(2);
    expect(newBackup.stderr).toMatch(/PLEXICHAT_HSM_PIN/);

    const wrongPin = await runCli(['list', '--json'], { ...env, PLEXICHAT_HSM_PIN: 'not-the-pin' });
    expect(wrongPin.code).toBe(2);
    expect(wrongPin.stderr).toMatch(/the PIN was refused \(CKR_PIN_INCORRECT\)\. Check PLEXICHAT_HSM_PIN/);
    expect(wrongPin.stderr).not.toContain('not-the-pin');
    const wrongToken = await runCli(['list', '--json'], { ...env, PLEXICHAT_HSM_TOKEN_LABEL: 'no-such-token' });
    expect(wrongToken.stderr).toMatch(/token "no-such-token": no such token is present/);
  });

  it('never quotes the PIN in a configuration error', () => {
    const bad = () => loadConfig({ ...t.env, PLEXICHAT_HSM_PIN: 'quoted-pin-123', PLEXICHAT_HSM_TOKEN_LABEL: TOKEN });
    expect(bad).toThrow(ConfigError);
    expect(bad).toThrow(/hsm\.module/);
    try {
      bad();
    } catch (err) {
      expect((err as Error).message).not.toContain('quoted-pin-123');
    }
  });
});
