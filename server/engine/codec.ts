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
import { compressAdaptive, compressionCode, compressionFromCode, decompress, type Compression, type CompressionPolicy } from './compression';

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
}

export interface Encoded {
  stored: Buffer;
  checksum: string;
  compression: Compression;
}

export class IntegrityError extends Error {
  override readonly name = 'IntegrityError';
}

export function encodeObject(plain: Buffer, o: EncodeOptions): Encoded {
  const { algo, out } = compressAdaptive(plain, o.compression, o.level);
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
  return { stored: Buffer.concat(parts), checksum: sum.toString('hex'), compression: algo };
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

export function readHeader(stored: Buffer): ObjectHeader {
  if (stored.length < 8 + SUM || !stored.subarray(0, 4).equals(MAGIC)) throw new IntegrityError('not a PlexiChat repository object');
  if (stored[4] !== VERSION) throw new IntegrityError(`unsupported object format version ${stored[4]}`);
  const cipher = CIPHERS[stored[6]!];
  if (!cipher) throw new IntegrityError(`unknown cipher code ${stored[6]}`);
  return { keyId: stored.subarray(8, 8 + stored[7]!).toString('ascii'), cipher, compression: compressionFromCode(stored[5]!) };
}

/** Verifies, decrypts and decompresses an object. `keyFor` returns the data key named in the header. */
export function decodeObject(stored: Buffer, label: string, keyFor: (keyId: string) => Buffer, expectedChecksum?: string): Buffer {
  const sum = storedChecksum(stored);
  if (sum === null || (expectedChecksum !== undefined && sum !== expectedChecksum)) throw new IntegrityError('checksum mismatch');
  const h = readHeader(stored);
  const keyLen = stored[7]!;
  const headerLen = 8 + keyLen + (h.cipher === 'none' ? 0 : NONCE);
  const end = stored.length - SUM;
  let body: Buffer;
  if (h.cipher === 'none') {
    body = stored.subarray(headerLen, end);
  } else {
    const header = stored.subarray(0, headerLen);
    const nonce = stored.subarray(8 + keyLen, headerLen);
    const d = createDecipheriv(h.cipher as 'aes-256-gcm', keyFor(h.keyId), nonce);
    d.setAAD(Buffer.concat([header, Buffer.from(label)]));
    d.setAuthTag(stored.subarray(end - TAG, end));
    try {
      body = Buffer.concat([d.update(stored.subarray(headerLen, end - TAG)), d.final()]);
    } catch {
      throw new IntegrityError('decryption failed (wrong key or tampered data)');
    }
  }
  return decompress(body, h.compression);
}
