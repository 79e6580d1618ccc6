/**
 * The stored form of every object in a repository (data shards, manifest shards, snapshots):
 *
 *   "PXS1" | version u8 | compression u8 | cipher u8 | keyIdLen u8 | keyId | nonce(12)? | body | tag(16)? | sha256(32)
 *
 * The trailing SHA-256 covers every byte before it, so anyone can check an object's integrity without a key.
 * With encryption the body is AES-GCM ciphertext; the additional data binds the header and the object's
 * label (its content id), so a header edit or an object swapped under another name fails authentication.
 */
import { createCipheriv, createDecipheriv, createHash, randomFillSync } from 'node:crypto';
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

/**
 * Where an encode compresses into (memory the caller reuses: the stored object never shares it), and where
 * the stored object is built (`alloc`, given its exact length; fresh memory of its own when absent).
 */
export interface EncodeMemory {
  scratch: Scratch;
  alloc?(length: number): Buffer;
}

/**
 * AES-GCM runs over PIECE bytes at a time, each piece's output copied into the object being built: Node's
 * cipher allocates new memory for whatever one update() yields. A whole shard's worth (~1 MiB) per call was
 * fresh pages from the kernel each time under the 128 KiB mmap threshold the CLI ran with until session 26
 * (an mmap, 256 page faults and an munmap: ~1.5 ms of system time per MiB in a codec thread, more than the
 * cipher). A piece is small enough to come from malloc's arenas under any threshold, so its memory is reused
 * warm; the pieces die young.
 */
const PIECE = 64 * 1024;

/** Runs `cipher` over `input` into `out` from `at`; returns where its output ends. */
function cipherInto(cipher: { update(b: Buffer): Buffer; final(): Buffer }, input: Buffer, out: Buffer, at: number): number {
  for (let i = 0; i < input.length; i += PIECE) {
    const piece = cipher.update(input.subarray(i, Math.min(i + PIECE, input.length)));
    at += piece.copy(out, at);
  }
  // GCM's final() yields nothing; anything it did would not fit, and is refused as damage.
  const rest = cipher.final();
  if (rest.length) throw new IntegrityError('the cipher produced more bytes than it was given');
  return at;
}

export function encodeObject(plain: Buffer, o: EncodeOptions, memory?: EncodeMemory): Encoded {
  const { algo, out } = compressAdaptive(plain, o.compression, o.level, o.byClass, memory?.scratch);
  const keyId = Buffer.from(o.keyId, 'ascii');
  const enc = o.cipher !== 'none';
  const headerLen = 8 + keyId.length + (enc ? NONCE : 0);
  // The stored object is built in one buffer of its own (transferable whole): header, body, tag, checksum.
  const length = headerLen + out.length + (enc ? TAG : 0) + SUM;
  const stored = memory?.alloc?.(length) ?? Buffer.allocUnsafeSlow(length);
  const header = stored.subarray(0, headerLen);
  MAGIC.copy(header, 0);
  header[4] = VERSION;
  header[5] = compressionCode(algo);
  header[6] = CIPHERS.indexOf(o.cipher);
  header[7] = keyId.length;
  keyId.copy(header, 8);
  let at = headerLen;
  if (enc) {
    if (!o.key) throw new Error('encryption requested without a key');
    randomFillSync(header, 8 + keyId.length, NONCE);
    const c = createCipheriv(o.cipher as 'aes-256-gcm', o.key, header.subarray(8 + keyId.length));
    c.setAAD(Buffer.concat([header, Buffer.from(o.label)]));
    at = cipherInto(c, out, stored, at);
    at += c.getAuthTag().copy(stored, at);
  } else {
    at += out.copy(stored, at);
  }
  if (at !== stored.length - SUM) throw new Error(`internal: encoded ${at} bytes where ${stored.length - SUM} were expected`);
  const sum = createHash('sha256').update(stored.subarray(0, at)).digest();
  sum.copy(stored, at);
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
  /**
   * true: an encrypted object is accepted on its GCM tag without its SHA-256 checksum. The tag authenticates
   * the header, the content id the object is stored under (its label) and the whole body, so a reader gets
   * exactly the plaintext that was stored, or an IntegrityError; left unchecked are only the trailing 32
   * bytes (a hash of the rest), whose damage verify reports. A restore uses it; verify does not. An object
   * without encryption is always checksummed.
   */
  tagSuffices?: boolean;
}

/**
 * Where a decode gets memory for the plaintext, and reused memory for the decrypted intermediate (when the
 * object is compressed too: it is decompressed out of it at once, and nothing returned shares it).
 */
export interface DecodeMemory {
  alloc(length: number): Buffer;
  scratch: Scratch;
}

/**
 * Verifies, decrypts and decompresses an object. `keyFor` returns the data key named in the header (or
 * null when it is not one we hold). Every way hostile bytes can fail is an IntegrityError.
 */
export function decodeObject(stored: Buffer, label: string, keyFor: (keyId: string) => Buffer | null, opts: DecodeOptions | string = {}, memory?: DecodeMemory): Buffer {
  const o: DecodeOptions = typeof opts === 'string' ? { expectedChecksum: opts } : opts;
  const sealed = o.tagSuffices === true && stored.length > 6 && (CIPHERS[stored[6]!] ?? 'none') !== 'none';
  if (!sealed) {
    const sum = storedChecksum(stored);
    if (sum === null || (o.expectedChecksum !== undefined && sum !== o.expectedChecksum)) throw new IntegrityError('checksum mismatch');
  }
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
    const ciphertext = stored.subarray(headerLen, end - TAG);
    // Decrypted in pieces (see PIECE): an uncompressed body straight into the plaintext's memory.
    const n = ciphertext.length;
    const into = h.compression === 'none' ? (memory?.alloc(n) ?? Buffer.allocUnsafeSlow(n)) : (memory?.scratch(n) ?? Buffer.allocUnsafeSlow(n));
    try {
      body = into.subarray(0, cipherInto(d, ciphertext, into, 0));
    } catch {
      throw new IntegrityError('decryption failed (wrong key or tampered data)');
    }
  }
  try {
    return decompress(body, h.compression, memory?.alloc);
  } catch (err) {
    if (err instanceof DecompressionError) throw new IntegrityError(err.message);
    throw err;
  }
}
