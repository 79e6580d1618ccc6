/**
 * Key hierarchy: a master key (PLEXICHAT_ENCRYPTION_KEY, or a generated 0600 key file) → per-security-level
 * key-encryption keys (STANDARD/BASIC: the master key itself; HIGH: PBKDF2-SHA256 100,000 iterations;
 * MAXIMUM: Argon2id; GOVERNMENT: a non-extractable AES-256 key inside an HSM, see hsm.ts) → one data key per
 * backup, stored only wrapped (AES-256-GCM, key id as additional data).
 * A separate id key makes content ids keyed hashes, so object names reveal nothing about the data.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config, SecurityLevel } from '../config';
import type { Cipher } from './codec';
import { EngineError } from './errors';
import type { Hsm } from './hsm';

export interface WrappedKey {
  id: string;
  securityLevel: SecurityLevel | 'id';
  algorithm: Cipher | 'hmac-sha256';
  wrapped: string; // base64(nonce | ciphertext | tag)
  kekId: string;
}

/** A master key as given in the environment: 64 hex characters, 32 bytes base64, or a passphrase. */
function parseKeyText(text: string): Buffer {
  const v = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(v)) return Buffer.from(v, 'hex');
  const b = Buffer.from(v, 'base64');
  if (b.length === 32 && /^[A-Za-z0-9+/]+=*$/.test(v)) return b;
  // A passphrase: stretch it deterministically, so the same passphrase opens the repository anywhere.
  return scryptSync(v, 'plexichat-backup/master-key/v1', 32, { N: 1 << 15, r: 8, p: 1, maxmem: 64 * 1024 * 1024 });
}

/** Where a generated key file keeps the keys a rotation replaced, until every key is wrapped by the new one. */
export const previousKeyFile = (keyFile: string) => `${keyFile}.previous`;

/**
 * The keys replaced by a rotation that may still wrap something: PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS, and for a
 * generated key file its `.previous` file (one hex key per line). They open old wrappings; nothing new uses them.
 */
export function loadPreviousMasterKeys(source: Config['master_key_source']): Buffer[] {
  const keys = (source.previous ?? []).map(parseKeyText);
  if (source.kind === 'file' && existsSync(previousKeyFile(source.path))) {
    for (const line of readFileSync(previousKeyFile(source.path), 'utf8').split('\n')) {
      if (/^[0-9a-fA-F]{64}$/.test(line.trim())) keys.push(Buffer.from(line.trim(), 'hex'));
    }
  }
  return keys;
}

/** Hints already logged by this process (a key file in data_dir): once, not at every open. */
const hinted = new Set<string>();

export function loadMasterKey(source: Config['master_key_source'], log: (msg: string) => void): Buffer {
  if (source.kind === 'env') return parseKeyText(source.value);
  if (source.hint && !hinted.has(source.hint) && hinted.add(source.hint)) log(`NOTE: ${source.hint}`);
  if (existsSync(source.path)) {
    const hex = readFileSync(source.path, 'utf8').trim();
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
      throw new EngineError('INVALID', `The master key file ${source.path} is damaged (expected 64 hex characters). Restore it from your key backup.`);
    }
    return Buffer.from(hex, 'hex');
  }
  // The key's folder is private (0700) when this creates it; an existing folder is the admin's choice.
  const dir = path.dirname(source.path);
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
  }
  const key = randomBytes(32);
  writeFileSync(source.path, `${key.toString('hex')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(source.path, 0o600);
  log(
    `WARNING: generated a new master key at ${source.path} (key_file; apart from the data). Every backup is encrypted under it: copy it somewhere safe ` +
      `(a password manager or a vault). Without it no backup can ever be restored. Set key_file (PLEXICHAT_KEY_FILE) to keep it elsewhere, or PLEXICHAT_ENCRYPTION_KEY to manage it yourself.`,
  );
  return key;
}

export function keyFingerprint(key: Buffer): string {
  return `mk-${createHash('sha256').update(key).digest('hex').slice(0, 16)}`;
}

export function cipherFor(level: SecurityLevel, encryption: boolean): Cipher {
  if (!encryption) return 'none';
  return level === 'basic' ? 'aes-128-gcm' : 'aes-256-gcm';
}

function seal(kek: Buffer, plain: Buffer, aad: string): string {
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(Buffer.from(aad));
  return Buffer.concat([nonce, c.update(plain), c.final(), c.getAuthTag()]).toString('base64');
}

function unseal(kek: Buffer, sealed: string, aad: string): Buffer {
  const b = Buffer.from(sealed, 'base64');
  const d = createDecipheriv('aes-256-gcm', kek, b.subarray(0, 12));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(b.subarray(b.length - 16));
  return Buffer.concat([d.update(b.subarray(12, b.length - 16)), d.final()]);
}

/** Seals arbitrary secrets (e.g. cloud credentials in the catalog) under the master key. */
export function sealSecret(master: Buffer, plain: string, context: string): string {
  return seal(master, Buffer.from(plain, 'utf8'), `secret:${context}`);
}

export function openSecret(master: Buffer, sealed: string, context: string): string {
  return unseal(master, sealed, `secret:${context}`).toString('utf8');
}

/** Opens a secret sealed under any of these keys (the current one first, then keys a rotation replaced). */
export function openSecretAny(masters: Buffer[], sealed: string, context: string): string {
  for (const m of masters.slice(0, -1)) {
    try {
      return openSecret(m, sealed, context);
    } catch {
      // sealed under another key: try the next
    }
  }
  return openSecret(masters[masters.length - 1]!, sealed, context);
}

export class KeyRing {
  private currentId: string;
  private readonly keks = new Map<string, Buffer>();
  private readonly dataKeys = new Map<string, Buffer>();
  /** The current master key and the ones a rotation replaced, by fingerprint. */
  private readonly masters = new Map<string, Buffer>();

  constructor(
    master: Buffer,
    /** Per-repository salt for the HIGH and MAXIMUM key derivations. */
    private readonly salt: Buffer,
    /** GOVERNMENT's key-encryption key lives in this HSM (never in memory); absent, that level is refused. */
    private readonly hsm: Hsm | null = null,
    /** Master keys replaced by a rotation: they open what they wrapped; nothing new is wrapped by them. */
    previous: Buffer[] = [],
  ) {
    this.currentId = keyFingerprint(master);
    this.adopt(master, previous);
  }

  /** Fingerprint of the master key that wraps new keys. */
  get masterId(): string {
    return this.currentId;
  }

  /** Takes a new current master key (another process rotated); the keys held so far stay usable for unwrapping. */
  adopt(current: Buffer, previous: Buffer[] = []): void {
    const ordered = new Map<string, Buffer>([[keyFingerprint(current), current]]);
    for (const m of [...previous, ...this.masters.values()]) if (!ordered.has(keyFingerprint(m))) ordered.set(keyFingerprint(m), m);
    this.masters.clear();
    for (const [id, m] of ordered) this.masters.set(id, m);
    this.currentId = keyFingerprint(current);
  }

  /** Fingerprints of the replaced master keys this ring still holds. */
  get previousIds(): string[] {
    return [...this.masters.keys()].filter((id) => id !== this.masterId);
  }

  /** Every master key, the current one first (for secrets sealed before a rotation finished). */
  get allMasters(): Buffer[] {
    return [...this.masters.values()];
  }

  /** Re-wraps a data key under the current master key (a rotation); GOVERNMENT keys stay with the HSM. */
  async rewrap(w: WrappedKey): Promise<WrappedKey> {
    if (w.securityLevel === 'government' || w.kekId === this.masterId) return w;
    const key = await this.unwrap(w);
    return { ...w, wrapped: seal(await this.kek(w.securityLevel), key, w.id), kekId: this.masterId };
  }

  /** Throws a clear error when a security level cannot be used on this installation (GOVERNMENT without an HSM). */
  async assertAvailable(level: SecurityLevel): Promise<void> {
    if (level === 'government') this.requireHsm();
    else await this.kek(level);
  }

  private requireHsm(): Hsm {
    if (this.hsm) return this.hsm;
    throw new EngineError(
      'INVALID',
      'Security level GOVERNMENT needs a hardware security module (PKCS#11), which is not configured on this installation: set PLEXICHAT_HSM_MODULE, PLEXICHAT_HSM_TOKEN_LABEL and PLEXICHAT_HSM_PIN (see README), or use standard, high or maximum.',
    );
  }

  /** The key-encryption key of a security level, under the current master key or (to unwrap) a previous one. */
  async kek(level: SecurityLevel | 'id', masterId = this.masterId): Promise<Buffer> {
    const cacheKey = `${masterId}:${level}`;
    const cached = this.keks.get(cacheKey);
    if (cached) return cached;
    const master = this.masters.get(masterId);
    if (!master) throw new EngineError('INVALID', `Master key ${masterId} is not configured.`);
    let kek: Buffer;
    switch (level) {
      case 'id':
      case 'basic':
      case 'standard':
        kek = master;
        break;
      case 'high':
        kek = pbkdf2Sync(master, Buffer.concat([this.salt, Buffer.from('high')]), 100_000, 32, 'sha256');
        break;
      case 'maximum': {
        const argon2 = await import('argon2');
        kek = await argon2.hash(master, {
          type: argon2.argon2id,
          raw: true,
          hashLength: 32,
          salt: Buffer.concat([this.salt, Buffer.from('maximum')]),
          memoryCost: 64 * 1024,
          timeCost: 3,
        });
        break;
      }
      case 'government':
        // Its key-encryption key never leaves the HSM: wrapping goes through the token (newKey, unwrap).
        this.requireHsm();
        throw new EngineError('INVALID', 'The GOVERNMENT key-encryption key stays inside the HSM; it is used through it, never read.');
    }
    this.keks.set(cacheKey, kek);
    return kek;
  }

  async newKey(level: SecurityLevel | 'id', algorithm: WrappedKey['algorithm']): Promise<{ key: Buffer; wrapped: WrappedKey }> {
    const id = `${level === 'id' ? 'idk' : 'dk'}-${randomBytes(8).toString('hex')}`;
    const key = randomBytes(algorithm === 'aes-128-gcm' ? 16 : 32);
    if (level === 'government') {
      const hsm = this.requireHsm();
      const wrapped = hsm.wrap(key, id);
      this.dataKeys.set(id, key);
      return { key, wrapped: { id, securityLevel: level, algorithm, wrapped, kekId: hsm.kekId } };
    }
    const wrapped = seal(await this.kek(level), key, id);
    this.dataKeys.set(id, key);
    return { key, wrapped: { id, securityLevel: level, algorithm, wrapped, kekId: this.masterId } };
  }

  async unwrap(w: WrappedKey): Promise<Buffer> {
    const cached = this.dataKeys.get(w.id);
    if (cached) return cached;
    if (w.securityLevel === 'government') return this.unwrapWithHsm(w);
    if (!this.masters.has(w.kekId)) {
      throw new EngineError(
        'INVALID',
        `Key ${w.id} is wrapped by master key ${w.kekId}, but the configured master key is ${this.masterId}. Set PLEXICHAT_ENCRYPTION_KEY to the key these backups were made with (after a rotation that has not finished, the replaced key goes in PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS).`,
      );
    }
    let key: Buffer;
    try {
      key = unseal(await this.kek(w.securityLevel, w.kekId), w.wrapped, w.id);
    } catch {
      throw new EngineError('INTEGRITY', `Cannot unwrap data key ${w.id}: the wrapped key is damaged or the master key is wrong.`);
    }
    this.dataKeys.set(w.id, key);
    return key;
  }

  private unwrapWithHsm(w: WrappedKey): Buffer {
    const hsm = this.requireHsm();
    if (w.kekId !== hsm.kekId) {
      throw new EngineError('INVALID', `Key ${w.id} is wrapped by HSM key ${w.kekId}, but the configured HSM key is ${hsm.kekId}. Configure the token and key label these backups were made with.`);
    }
    let key: Buffer;
    try {
      key = hsm.unwrap(w.wrapped, w.id);
    } catch {
      throw new EngineError('INTEGRITY', `The HSM could not unwrap data key ${w.id}: the wrapped key is damaged or belongs to another HSM key.`);
    }
    this.dataKeys.set(w.id, key);
    return key;
  }

  /** Ends the HSM session, if any. */
  close(): void {
    this.hsm?.close();
  }

  /** Synchronous access for the hot path; the key must have been unwrapped before. */
  cached(id: string): Buffer {
    const k = this.dataKeys.get(id);
    if (!k) throw new EngineError('INTEGRITY', `Data key ${id} is not loaded; its key record is missing from the catalog and the repository.`);
    return k;
  }
}

/** Content id: a keyed hash, per security level, so equal data dedups only within one level. */
export function contentIdKey(idKey: Buffer, level: SecurityLevel): Buffer {
  return createHmac('sha256', idKey).update(`content-id:${level}`).digest();
}

export function contentId(levelKey: Buffer, data: Buffer): string {
  return createHmac('sha256', levelKey).update(data).digest('hex');
}
