/**
 * The stored form of every object in a repository (data shards, manifest shards, snapshots):
 *
 *   "PXS1" | version u8 | compression u8 | cipher u8 | keyIdLen u8 | keyId | nonce(12)? | body | tag(16)? | sha256(32)
 *
 * The trailing SHA-256 covers every byte before it, so anyone can check an object's integrity without a key.
 * With encryption the body is AES-GCM ciphertext; the additional data binds the header and the object's
 * label (its content id), so a header edit or an object swapped under another name fails authentication.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { CompressionConfig } from '../../config-compression';
import { compressAdaptive, compressionCode, compressionFromCode, decompress, DecompressionError, type Compression, type CompressionPolicy, type Scratch } from './compression';

const MAGIC = Buffer.from('PXS1');
const VERSION = 1;
const NONCE = 12;
const TAG = 16;
const SUM = 32;

export type Cipher = 'none' | 'aes-256-gcm' | 'aes-128-gcm';
const CIPHERS: Cipher[] = ['none', 'aes-256-gcm', 'aes-128-gcm'];

export interface EncodeOptions {
  label: string;
  keyId: string;
  key: Buffer | null;
  cipher: Cipher;
  compression: CompressionPolicy;
  level: number;
  /** The config's compression_config: algorithm and level per kind of data, under the "auto" policy. */
  byClass?: CompressionConfig;
}

export interface Encoded {
  stored: Buffer;
  checksum: string;
  compression: Compression;
}

export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
}

/** Where an encode compresses into, and where the ciphertext goes once copied into the stored object. */
export interface EncodeMemory {
  scratch: Scratch;
  discard(b: Buffer): void;
}

export function encodeObject(plain: Buffer, o: EncodeOptions, memory?: EncodeMemory): Encoded {
  const { algo, out } = compressAdaptive(plain, o.compression, o.level, o.byClass, memory?.scratch);
  const keyId = Buffer.from(o.keyId, 'ascii');
  const enc = o.cipher !== 'none';
  const header = Buffer.alloc(8 + keyId.length + (enc ? NONCE : 0));
  MAGIC.copy(header, 0);
  header[4] = VERSION;
  header[5] = compressionCode(algo);
  header[6] = CIPHERS.indexOf(o.cipher);
  header[7] = keyId.length;
  keyId.copy(header, 8);
  const parts: Buffer[] = [header];
  if (enc) {
    if (!o.key) throw new Error('encryption requested without a key');
    const nonce = randomBytes(NONCE);
    nonce.copy(header, 8 + keyId.length);
    const c = createCipheriv(o.cipher as 'aes-256-gcm', o.key, nonce);
    c.setAAD(Buffer.concat([header, Buffer.from(o.label)]));
    parts.push(c.update(out), c.final(), c.getAuthTag());
  } else {
    parts.push(out);
  }
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  const sum = h.digest();
  parts.push(sum);
  const stored = Buffer.concat(parts);
  if (enc) memory?.discard(parts[1]!);
  return { stored, checksum: sum.toString('hex'), compression: algo };
}

/** Checks the trailing SHA-256 without any key; returns the checksum, or null when the object is damaged. */
export function storedChecksum(stored: Buffer): string | null {
  if (stored.length < 8 + SUM || !stored.subarray(0, 4).equals(MAGIC)) return null;
  const body = stored.subarray(0, stored.length - SUM);
  const sum = stored.subarray(stored.length - SUM);
  return createHash('sha256').update(body).digest().equals(sum) ? sum.toString('hex') : null;
}

export interface ObjectHeader {
  keyId: string;
  cipher: Cipher;
  compression: Compression;
}

/** Key ids we write are short printable ASCII (`dk-<hex>`); anything else in a header is damage. */
const KEY_ID = /^[\x21-\x7e]*$/;
const KEY_BYTES: Record<Exclude<Cipher, 'none'>, number> = { 'aes-256-gcm': 32, 'aes-128-gcm': 16 };

/**
 * Parses the header of untrusted bytes. Every length it reads is checked against the object's size first:
 * the key-id length byte cannot make the body start (or the tag sit) outside the object.
 */
export function readHeader(stored: Buffer): ObjectHeader {
  if (stored.length < 8 + SUM || !stored.subarray(0, 4).equals(MAGIC)) throw new IntegrityError('not a PlexiChat repository object');
  if (stored[4] !== VERSION) throw new IntegrityError(`unsupported object format version ${stored[4]}`);
  const cipher = CIPHERS[stored[6]!];
  if (!cipher) throw new IntegrityError(`unknown cipher code ${stored[6]}`);
  const compression = compressionFromCode(stored[5]!);
  if (!compression) throw new IntegrityError(`unknown compression code ${stored[5]}`);
  if (headerLength(stored, cipher) + (cipher === 'none' ? 0 : TAG) + SUM > stored.length) throw new IntegrityError('the header claims more bytes than the object holds');
  const keyId = stored.subarray(8, 8 + stored[7]!).toString('latin1');
  if (!KEY_ID.test(keyId)) throw new IntegrityError('the header names a key id that is not one');
  return { keyId, cipher, compression };
}

function headerLength(stored: Buffer, cipher: Cipher): number {
  return 8 + stored[7]! + (cipher === 'none' ? 0 : NONCE);
}

export interface DecodeOptions {
  /** The checksum the catalog recorded; a different object under the same name is refused. */
  expectedChecksum?: string;
  /** false: an object without encryption is refused (the repository requires encryption). Default true. */
  allowPlain?: boolean;
}

/** Where a decode gets memory for the plaintext, and where the decrypted intermediate goes once decompressed. */
export interface DecodeMemory {
  alloc(length: number): Buffer;
  discard(b: Buffer): void;
}

/**
 * Verifies, decrypts and decompresses an object. `keyFor` returns the data key named in the header (or
 * null when it is not one we hold). Every way hostile bytes can fail is an IntegrityError.
 */
export function decodeObject(stored: Buffer, label: string, keyFor: (keyId: string) => Buffer | null, opts: DecodeOptions | string = {}, memory?: DecodeMemory): Buffer {
  const o = typeof opts === 'string' ? { expectedChecksum: opts } : opts;
  const sum = storedChecksum(stored);
  if (sum === null || (o.expectedChecksum !== undefined && sum !== o.expectedChecksum)) throw new IntegrityError('checksum mismatch');
  const h = readHeader(stored);
  const headerLen = headerLength(stored, h.cipher);
  const end = stored.length - SUM;
  let body: Buffer;
  if (h.cipher === 'none') {
    if (o.allowPlain === false) throw new IntegrityError('the object is not encrypted, but this repository requires encryption (planted or tampered object)');
    body = stored.subarray(headerLen, end);
  } else {
    const key = keyFor(h.keyId);
    if (!key) throw new IntegrityError(`the object names data key ${h.keyId}, which is not a key of this repository`);
    if (key.length !== KEY_BYTES[h.cipher]) throw new IntegrityError(`the object claims ${h.cipher}, which data key ${h.keyId} is not for`);
    const header = stored.subarray(0, headerLen);
    const nonce = stored.subarray(headerLen - NONCE, headerLen);
    const d = createDecipheriv(h.cipher as 'aes-256-gcm', key, nonce);
    d.setAAD(Buffer.concat([header, Buffer.from(label)]));
    d.setAuthTag(stored.subarray(end - TAG, end));
    try {
      // GCM's final() yields nothing: no concat, which would copy the whole body once more (worker garbage).
      const main = d.update(stored.subarray(headerLen, end - TAG));
      const rest = d.final();
      body = rest.length ? Buffer.concat([main, rest]) : main;
    } catch {
      throw new IntegrityError('decryption failed (wrong key or tampered data)');
    }
  }
  try {
    const plain = decompress(body, h.compression, memory?.alloc);
    if (memory && plain !== body && h.cipher !== 'none') memory.discard(body);
    return plain;
  } catch (err) {
    if (err instanceof DecompressionError) throw new IntegrityError(err.message);
    throw err;
  }
}
