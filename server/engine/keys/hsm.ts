/**
 * The hardware security module of security level GOVERNMENT, over PKCS#11 (pkcs11js; SoftHSM in the tests).
 * The key-encryption key is an AES-256 key generated inside the token — sensitive and not extractable — so it
 * never exists in this process: GOVERNMENT data keys are wrapped and unwrapped by the token with AES-256-GCM
 * (the key id as additional data). Everything else of that level uses FIPS-approved algorithms only
 * (AES-256-GCM for the data, HMAC-SHA-256 for content ids, SHA-256 checksums).
 */
import { createHash, randomBytes } from 'node:crypto';
import type * as Pkcs11Types from 'pkcs11js';
import type { HsmConfig } from '../../config';
import { EngineError } from '../errors';

type Pkcs11Module = typeof Pkcs11Types;
type Handle = Buffer;

/** pkcs11js is a native addon: loaded only when an HSM is configured. */
async function loadPkcs11(): Promise<Pkcs11Module> {
  const mod = (await import('pkcs11js')) as Pkcs11Module & { default?: Pkcs11Module };
  return mod.default ?? mod;
}

/**
 * A PKCS#11 module is initialised once per process (Cryptoki's rule): engines opened in the same process
 * (the console's, a test's) share one loaded module and count their uses; the last close finalises it.
 */
const modules = new Map<string, { lib: Pkcs11Types.PKCS11; users: number; owned: boolean }>();

function acquire(p11: Pkcs11Module, path: string): Pkcs11Types.PKCS11 {
  const known = modules.get(path);
  if (known) {
    known.users++;
    return known.lib;
  }
  const lib = new p11.PKCS11();
  try {
    lib.load(path);
  } catch (err) {
    throw new EngineError('UNAVAILABLE', `Cannot load the PKCS#11 module ${path} (hsm.module / PLEXICHAT_HSM_MODULE): ${(err as Error).message}.`);
  }
  let owned = true;
  try {
    lib.C_Initialize();
  } catch (err) {
    // Something else in this process initialised it: use it, and leave finalising to that owner.
    if (!/CRYPTOKI_ALREADY_INITIALIZED/.test((err as Error).message)) throw err;
    owned = false;
  }
  modules.set(path, { lib, users: 1, owned });
  return lib;
}

function release(path: string): void {
  const m = modules.get(path);
  if (!m || --m.users > 0) return;
  modules.delete(path);
  if (m.owned) m.lib.C_Finalize();
}

const IV_BYTES = 12;
const TAG_BITS = 128;

export class Hsm {
  /** Names the key-encryption key in wrapped keys (`kekId`): token serial and key label, hashed. */
  readonly kekId: string;

  private constructor(
    private readonly p11: Pkcs11Module,
    private readonly lib: Pkcs11Types.PKCS11,
    private readonly session: Handle,
    private readonly key: Handle,
    private readonly modulePath: string,
    serial: string,
    label: string,
  ) {
    this.kekId = `hsm-${createHash('sha256').update(`${serial}/${label}`).digest('hex').slice(0, 16)}`;
  }

  /**
   * Opens the token named by `token_label`, logs in with the PIN and finds the key `key_label`; when the
   * token has no such key yet, generates it there (non-extractable). Every failure names what to fix.
   */
  static async open(cfg: HsmConfig, log: (m: string) => void): Promise<Hsm> {
    const p11 = await loadPkcs11();
    const where = `HSM module ${cfg.module}, token "${cfg.token_label}"`;
    const lib = acquire(p11, cfg.module);
    let session: Handle | null = null;
    try {
      const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === cfg.token_label);
      if (!slot) throw new EngineError('UNAVAILABLE', `${where}: no such token is present. Check hsm.token_label (PLEXICHAT_HSM_TOKEN_LABEL) and that the token is connected.`);
      const serial = lib.C_GetTokenInfo(slot).serialNumber.trim();
      session = lib.C_OpenSession(slot, p11.CKF_SERIAL_SESSION | p11.CKF_RW_SESSION);
      if (!cfg.pin) throw new EngineError('INVALID', `${where}: no PIN configured; set PLEXICHAT_HSM_PIN.`);
      try {
        lib.C_Login(session, p11.CKU_USER, cfg.pin);
      } catch (err) {
        const code = (err as Error).message;
        if (/PIN_INCORRECT|PIN_LOCKED/.test(code)) throw new EngineError('INVALID', `${where}: the PIN was refused (${code.match(/CKR_\w+/)?.[0] ?? 'login failed'}). Check PLEXICHAT_HSM_PIN.`);
        if (!/USER_ALREADY_LOGGED_IN/.test(code)) throw err;
      }
      let key = findKey(p11, lib, session, cfg.key_label);
      if (!key) {
        key = generateKey(p11, lib, session, cfg.key_label);
        log(`generated the GOVERNMENT key-encryption key "${cfg.key_label}" inside ${where} (not extractable); back the token up with your HSM's own procedure`);
      }
      return new Hsm(p11, lib, session, key, cfg.module, serial, cfg.key_label);
    } catch (err) {
      if (session) lib.C_CloseSession(session);
      release(cfg.module);
      if (err instanceof EngineError) throw err;
      throw new EngineError('UNAVAILABLE', `${where}: ${(err as Error).message}.`);
    }
  }

  /** AES-256-GCM inside the token: base64(iv | ciphertext | tag). */
  wrap(plain: Buffer, aad: string): string {
    const iv = randomBytes(IV_BYTES);
    this.lib.C_EncryptInit(this.session, this.gcm(iv, aad), this.key);
    const out = this.lib.C_Encrypt(this.session, plain, Buffer.alloc(plain.length + TAG_BITS / 8 + 16));
    return Buffer.concat([iv, out]).toString('base64');
  }

  unwrap(sealed: string, aad: string): Buffer {
    const b = Buffer.from(sealed, 'base64');
    this.lib.C_DecryptInit(this.session, this.gcm(b.subarray(0, IV_BYTES), aad), this.key);
    return Buffer.from(this.lib.C_Decrypt(this.session, b.subarray(IV_BYTES), Buffer.alloc(b.length)));
  }

  close(): void {
    try {
      // The login belongs to the token, shared by every session of this process: closing ours is enough.
      this.lib.C_CloseSession(this.session);
    } catch {
      // already closed
    }
    release(this.modulePath);
  }

  private gcm(iv: Buffer, aad: string): Pkcs11Types.Mechanism {
    const parameter: Pkcs11Types.GcmParams = { type: this.p11.CK_PARAMS_GCM, iv, ivBits: IV_BYTES * 8, aad: Buffer.from(aad), tagBits: TAG_BITS };
    return { mechanism: this.p11.CKM_AES_GCM, parameter };
  }
}

function findKey(p11: Pkcs11Module, lib: Pkcs11Types.PKCS11, session: Handle, label: string): Handle | null {
  lib.C_FindObjectsInit(session, [
    { type: p11.CKA_CLASS, value: p11.CKO_SECRET_KEY },
    { type: p11.CKA_LABEL, value: label },
  ]);
  try {
    const found = lib.C_FindObjects(session, 2);
    if (found.length > 1) throw new EngineError('INVALID', `The HSM token holds ${found.length} keys labelled "${label}"; keep one, or set hsm.key_label to a unique label.`);
    return found[0] ?? null;
  } finally {
    lib.C_FindObjectsFinal(session);
  }
}

function generateKey(p11: Pkcs11Module, lib: Pkcs11Types.PKCS11, session: Handle, label: string): Handle {
  return lib.C_GenerateKey(session, { mechanism: p11.CKM_AES_KEY_GEN }, [
    { type: p11.CKA_CLASS, value: p11.CKO_SECRET_KEY },
    { type: p11.CKA_KEY_TYPE, value: p11.CKK_AES },
    { type: p11.CKA_VALUE_LEN, value: 32 },
    { type: p11.CKA_TOKEN, value: true },
    { type: p11.CKA_PRIVATE, value: true },
    { type: p11.CKA_SENSITIVE, value: true },
    { type: p11.CKA_EXTRACTABLE, value: false },
    { type: p11.CKA_ENCRYPT, value: true },
    { type: p11.CKA_DECRYPT, value: true },
    { type: p11.CKA_LABEL, value: label },
  ]);
}
