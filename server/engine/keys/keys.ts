/**
 * Key hierarchy: a master key (PLEXICHAT_ENCRYPTION_KEY, or a generated 0600 key file) → per-security-level
 * key-encryption keys → one data key per backup, stored only wrapped (AES-256-GCM, key id as additional data).
 *   BASIC/STANDARD: the master key itself.
 *   HIGH (wrapping v2): PBKDF2-SHA256, 600,000 iterations, over master key ‖ second factor (a passphrase or key
 *     file kept apart from the master key, see second-factor.ts).
 *   MAXIMUM (v2): Argon2id over master key ‖ second factor, around a seal to the key-holder quorum's public key
 *     (quorum.ts): writing needs the factor only, reading also k of n holders' shares.
 *   GOVERNMENT: a non-extractable AES-256 key inside an HSM, see hsm.ts.
 * Wrapping v1 (HIGH/MAXIMUM written before v2: a KDF over the master key alone) is still read; nothing new is
 * written in it, and `keys upgrade` re-wraps v1 keys in v2 (docs/security-levels.md).
 * A separate id key makes content ids keyed hashes, so object names reveal nothing about the data.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, pbkdf2Sync, randomBytes, scryptSync } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Config, SecurityLevel } from '../../config';
import type { Cipher } from '../repository/codec';
import { EngineError } from '../errors';
import type { Hsm } from './hsm';
import { openFromQuorum, operationQuorum, sealToQuorum } from './quorum';

/** The second factor of HIGH and MAXIMUM, as loaded (second-factor.ts); `name` says where it came from. */
export interface SecondFactor {
  bytes: Buffer;
  name: string;
}

/** Wrapping v2 of HIGH and MAXIMUM keys: `v2.<base64>` (HIGH) or `v2.<quorum id>.<base64>` (MAXIMUM). v1 is bare base64. */
export const isV2 = (w: Pick<WrappedKey, 'wrapped'>) => w.wrapped.startsWith('v2.');
const FACTOR_LEVELS = new Set(['high', 'maximum']);

const missingFactor = (what: string) =>
  new EngineError(
    'INVALID',
    `${what} needs the second factor (a passphrase or key file kept apart from the master key), which is not configured in this process: set PLEXICHAT_HIGH_PASSPHRASE, or high_key_file / PLEXICHAT_HIGH_KEY_FILE, to the one this repository uses (docs/security-levels.md). Other security levels keep working without it.`,
  );

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
  /** HIGH and MAXIMUM's second factor; null when this process was not given one. */
  private factor: SecondFactor | null = null;
  /** The MAXIMUM quorum's public key (from the authenticated catalog record); null before `keys quorum init`. */
  private quorum: { id: string; pub: Buffer } | null = null;

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

  setSecondFactor(f: SecondFactor | null): void {
    this.factor = f;
    for (const k of [...this.keks.keys()]) if (k.endsWith(':v2')) this.keks.delete(k);
  }

  setQuorum(q: { id: string; pub: Buffer } | null): void {
    this.quorum = q;
  }

  get quorumId(): string | null {
    return this.quorum?.id ?? null;
  }

  get secondFactorName(): string | null {
    return this.factor?.name ?? null;
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

  /** Wrapped by the current master key, in the newest wrapping this process can write for its level. */
  isCurrent(w: WrappedKey): boolean {
    if (w.securityLevel === 'government') return true;
    if (w.kekId !== this.masterId) return false;
    return !FACTOR_LEVELS.has(w.securityLevel) || isV2(w) || !this.canWriteV2(w.securityLevel);
  }

  private canWriteV2(level: WrappedKey['securityLevel']): boolean {
    return Boolean(this.factor) && (level !== 'maximum' || Boolean(this.quorum));
  }

  /**
   * Re-wraps a data key under the current master key (a rotation), upgrading HIGH/MAXIMUM v1 wrappings to v2
   * when the second factor (and for MAXIMUM the quorum's public key) is configured. A MAXIMUM v2 key only has
   * its outer layer re-sealed: the quorum seal inside stays, so no share is needed. GOVERNMENT stays with the HSM.
   */
  async rewrap(w: WrappedKey): Promise<WrappedKey> {
    if (this.isCurrent(w)) return w;
    if (w.securityLevel === 'maximum' && isV2(w)) {
      const { quorum, sealed } = splitV2(w);
      const inner = this.openOuter(await this.kekV2('maximum', w.kekId), sealed, w);
      return { ...w, wrapped: `v2.${quorum}.${seal(await this.kekV2('maximum'), inner, w.id)}`, kekId: this.masterId };
    }
    const key = await this.unwrap(w);
    if (FACTOR_LEVELS.has(w.securityLevel) && this.canWriteV2(w.securityLevel)) return { ...w, wrapped: await this.wrapV2(w.securityLevel as 'high' | 'maximum', key, w.id), kekId: this.masterId };
    return { ...w, wrapped: seal(await this.kek(w.securityLevel), key, w.id), kekId: this.masterId };
  }

  /** Throws a clear error when a security level cannot be used on this installation (GOVERNMENT without an HSM). */
  async assertAvailable(level: SecurityLevel): Promise<void> {
    if (level === 'government') this.requireHsm();
    else if (level === 'high' || level === 'maximum') {
      if (!this.factor) throw missingFactor(`Security level ${level.toUpperCase()}`);
      if (level === 'maximum' && !this.quorum) {
        throw new EngineError('INVALID', 'Security level MAXIMUM needs a key-holder quorum, and this repository has none yet: run "plexichat-backup keys quorum init --threshold K --holders N" once and hand each holder their share (docs/security-levels.md).');
      }
      await this.kekV2(level);
    } else await this.kek(level);
  }

  /** HIGH/MAXIMUM v2 key-encryption key: the level's KDF over master key ‖ second factor. */
  private async kekV2(level: 'high' | 'maximum', masterId = this.masterId): Promise<Buffer> {
    const cacheKey = `${masterId}:${level}:v2`;
    const cached = this.keks.get(cacheKey);
    if (cached) return cached;
    if (!this.factor) throw missingFactor(`Security level ${level.toUpperCase()}`);
    const master = this.masters.get(masterId);
    if (!master) throw new EngineError('INVALID', `Master key ${masterId} is not configured.`);
    const input = Buffer.concat([master, this.factor.bytes]);
    let kek: Buffer;
    if (level === 'high') kek = pbkdf2Sync(input, Buffer.concat([this.salt, Buffer.from('high-v2')]), 600_000, 32, 'sha256');
    else {
      const argon2 = await import('argon2');
      kek = await argon2.hash(input, { type: argon2.argon2id, raw: true, hashLength: 32, salt: Buffer.concat([this.salt, Buffer.from('maximum-v2')]), memoryCost: 64 * 1024, timeCost: 3 });
    }
    this.keks.set(cacheKey, kek);
    return kek;
  }

  private async wrapV2(level: 'high' | 'maximum', key: Buffer, id: string): Promise<string> {
    const kek = await this.kekV2(level);
    if (level === 'high') return `v2.${seal(kek, key, id)}`;
    const q = this.quorum!;
    return `v2.${q.id}.${seal(kek, sealToQuorum(q.pub, key, id), id)}`;
  }

  private openOuter(kek: Buffer, sealed: string, w: WrappedKey): Buffer {
    try {
      return unseal(kek, sealed, w.id);
    } catch {
      throw new EngineError(
        'INVALID',
        `Cannot unwrap ${w.securityLevel.toUpperCase()} data key ${w.id}: the second factor configured here (${this.factor?.name}) is not the one it was wrapped with (or the wrapped key is damaged). Set the passphrase or key file these backups were made with.`,
      );
    }
  }

  /**
   * Checks that the configured second factor opens a HIGH/MAXIMUM v2 key already in the repository (its outer
   * layer only: no share needed), so a mistyped factor is refused before backups are written under it.
   */
  async checkSecondFactor(w: WrappedKey): Promise<void> {
    if (!isV2(w) || !this.masters.has(w.kekId)) return;
    const level = w.securityLevel as 'high' | 'maximum';
    const sealed = level === 'maximum' ? splitV2(w).sealed : w.wrapped.slice(3);
    this.openOuter(await this.kekV2(level, w.kekId), sealed, w);
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
    if (level === 'high' || level === 'maximum') {
      await this.assertAvailable(level);
      const wrapped = await this.wrapV2(level, key, id);
      // A MAXIMUM key is never kept in the ring: reading it back must take the quorum, even in this process.
      if (level === 'high') this.dataKeys.set(id, key);
      return { key, wrapped: { id, securityLevel: level, algorithm, wrapped, kekId: this.masterId } };
    }
    const wrapped = seal(await this.kek(level), key, id);
    this.dataKeys.set(id, key);
    return { key, wrapped: { id, securityLevel: level, algorithm, wrapped, kekId: this.masterId } };
  }

  private async unwrapV2(w: WrappedKey): Promise<Buffer> {
    const what = `${w.securityLevel.toUpperCase()} data key ${w.id}`;
    if (!this.factor) throw missingFactor(`Reading ${what}`);
    if (w.securityLevel === 'high') {
      const key = this.openOuter(await this.kekV2('high', w.kekId), w.wrapped.slice(3), w);
      this.dataKeys.set(w.id, key);
      return key;
    }
    const { quorum, sealed } = splitV2(w);
    const inner = this.openOuter(await this.kekV2('maximum', w.kekId), sealed, w);
    const q = operationQuorum();
    if (!q) {
      const without = `Reading ${what} needs the key holders' quorum ${quorum}: give k of its shares for this operation`;
      throw new QuorumRequiredError(`${without} (CLI: --share LINE, repeated, or --shares-file FILE; see docs/security-levels.md).`, {
        without_hint: `${without}.`,
        console_hint: 'Paste them, one per line, into "Key holders\' shares" on the restore form (docs/security-levels.md).',
      });
    }
    if (q.id !== quorum) throw new QuorumRequiredError(`${what} is sealed to quorum ${quorum}, but the shares given reassemble quorum ${q.id}: give shares of ${quorum}.`);
    try {
      return openFromQuorum(q, inner, w.id); // not cached in the ring: the next operation needs the shares again
    } catch {
      throw new EngineError('INTEGRITY', `Cannot open ${what} with quorum ${quorum}: the wrapped key is damaged.`);
    }
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
    if (FACTOR_LEVELS.has(w.securityLevel) && isV2(w)) return this.unwrapV2(w);
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

/** A MAXIMUM key was read without (the right) quorum shares for the operation. */
const QuorumRequiredError = class extends EngineError {
  constructor(message: string, hints: { without_hint?: string; console_hint?: string } = {}) {
    super('INVALID', message, { quorum_required: true, ...hints });
  }
};

export const isQuorumRequired = (err: unknown) => Boolean((err as { details?: { quorum_required?: unknown } })?.details?.quorum_required);

function splitV2(w: WrappedKey): { quorum: string; sealed: string } {
  const [, quorum, sealed] = w.wrapped.split('.');
  if (!quorum || !sealed) throw new EngineError('INTEGRITY', `MAXIMUM data key ${w.id} is damaged (its wrapping names no quorum).`);
  return { quorum, sealed };
}

/** Content id: a keyed hash, per security level, so equal data dedups only within one level. */
export function contentIdKey(idKey: Buffer, level: SecurityLevel): Buffer {
  return createHmac('sha256', idKey).update(`content-id:${level}`).digest();
}

export function contentId(levelKey: Buffer, data: Buffer): string {
  return createHmac('sha256', levelKey).update(data).digest('hex');
}
