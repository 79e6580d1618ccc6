/**
 * The piece format of erasure-coded objects (docs/repository-format.md, "Erasure-coded objects"). An object
 * of n bytes is cut into k data pieces of ceil(n / k) bytes (the last one zero-padded) and m Reed-Solomon
 * parity pieces of the same size; any k of the k + m pieces give the object back. Each piece stands alone:
 *
 *   "PXPC" | version 1 | k | m | index | object length (u32 BE) | id length | object id (ASCII)
 *   | SHA-256 of the whole object (32) | SHA-256 of everything before it plus the payload (32) | payload
 *
 * so a damaged or misplaced piece is recognised before it is used, and the rebuilt object is checked
 * against the SHA-256 every piece names (the codec's own trailer and AES-GCM then check it once more).
 */
import { createHash } from 'node:crypto';
import { IntegrityError } from './codec';
import { encodeParity, reconstructData } from './reed-solomon';

const MAGIC = Buffer.from('PXPC');
const VERSION = 1;
const SUM = 32;
export const MAX_PIECES = 255;

export interface PieceHeader {
  objectId: string;
  k: number;
  m: number;
  index: number;
  objectLength: number;
  /** SHA-256 (hex) of the whole object the pieces rebuild. */
  objectSha256: string;
}

export interface Piece {
  header: PieceHeader;
  payload: Buffer;
}

const sha256 = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest();
};

export function checkCoding(k: number, m: number): void {
  if (!Number.isInteger(k) || !Number.isInteger(m) || k < 1 || m < 1 || k + m > MAX_PIECES) {
    throw new RangeError(`Erasure coding needs whole numbers k ≥ 1 data and m ≥ 1 parity pieces with k + m ≤ ${MAX_PIECES}; got k=${k}, m=${m}`);
  }
}

function headerBytes(h: PieceHeader): Buffer {
  const id = Buffer.from(h.objectId, 'ascii');
  if (id.length > 255 || !/^[\x21-\x7e]+$/.test(h.objectId)) throw new RangeError(`Piece object id must be 1–255 printable ASCII characters: ${h.objectId}`);
  const fixed = Buffer.alloc(13);
  MAGIC.copy(fixed, 0);
  fixed.writeUInt8(VERSION, 4);
  fixed.writeUInt8(h.k, 5);
  fixed.writeUInt8(h.m, 6);
  fixed.writeUInt8(h.index, 7);
  fixed.writeUInt32BE(h.objectLength, 8);
  fixed.writeUInt8(id.length, 12);
  return Buffer.concat([fixed, id, Buffer.from(h.objectSha256, 'hex')]);
}

/** Cuts `object` into its k + m pieces, each with its header, in index order. */
export function splitObject(objectId: string, object: Buffer, k: number, m: number): Buffer[] {
  checkCoding(k, m);
  const size = Math.max(1, Math.ceil(object.length / k));
  const all = new Uint8Array(size * (k + m));
  all.set(object);
  encodeParity(all, k, m);
  const objectSha256 = sha256(object).toString('hex');
  return Array.from({ length: k + m }, (_, index) => {
    const head = headerBytes({ objectId, k, m, index, objectLength: object.length, objectSha256 });
    const payload = Buffer.from(all.buffer, index * size, size);
    return Buffer.concat([head, sha256(head, payload), payload]);
  });
}

/** The size of the object a piece of `pieceSize` bytes belongs to, at most k - 1 bytes too large (padding). */
export function objectSizeFromPiece(pieceSize: number, idLength: number, k: number): number {
  return Math.max(0, pieceSize - (13 + idLength + 2 * SUM)) * k;
}

/**
 * Parses and checks one piece; throws IntegrityError when it is damaged or is not the piece `expect` names
 * (an object id, a coding, an index).
 */
export function readPiece(buf: Buffer, expect: Partial<Pick<PieceHeader, 'objectId' | 'k' | 'm' | 'index'>> = {}): Piece {
  if (buf.length < 13 || !buf.subarray(0, 4).equals(MAGIC)) throw new IntegrityError('not an erasure-coded piece (bad magic)');
  if (buf[4] !== VERSION) throw new IntegrityError(`unknown piece format version ${buf[4]}`);
  const idLen = buf[12]!;
  const headLen = 13 + idLen + SUM;
  if (buf.length < headLen + SUM + 1) throw new IntegrityError('piece truncated');
  const head = buf.subarray(0, headLen);
  const payload = buf.subarray(headLen + SUM);
  if (!sha256(head, payload).equals(buf.subarray(headLen, headLen + SUM))) throw new IntegrityError('piece checksum mismatch');
  const header: PieceHeader = {
    k: buf[5]!,
    m: buf[6]!,
    index: buf[7]!,
    objectLength: buf.readUInt32BE(8),
    objectId: buf.subarray(13, 13 + idLen).toString('ascii'),
    objectSha256: buf.subarray(13 + idLen, headLen).toString('hex'),
  };
  if (header.index >= header.k + header.m || payload.length !== Math.max(1, Math.ceil(header.objectLength / header.k))) {
    throw new IntegrityError('piece header inconsistent with its size');
  }
  for (const key of ['objectId', 'k', 'm', 'index'] as const) {
    if (expect[key] !== undefined && expect[key] !== header[key]) {
      throw new IntegrityError(`piece is not the one expected: ${key} is ${header[key]}, expected ${expect[key]}`);
    }
  }
  return { header, payload };
}

/**
 * Rebuilds the object from checked pieces (at most one per index, all of one object). Throws IntegrityError
 * when fewer than k are given, or when they do not rebuild the object their headers name.
 */
export function joinPieces(pieces: Piece[]): Buffer {
  const first = pieces[0]?.header;
  if (!first) throw new IntegrityError('no piece of the object is readable');
  const { k, m, objectLength, objectSha256, objectId } = first;
  const byIndex = new Map<number, Buffer>();
  for (const p of pieces) {
    const h = p.header;
    if (h.objectId !== objectId || h.k !== k || h.m !== m || h.objectLength !== objectLength || h.objectSha256 !== objectSha256) {
      throw new IntegrityError(`pieces of ${objectId} disagree about the object they belong to (piece ${h.index})`);
    }
    byIndex.set(h.index, p.payload);
  }
  if (byIndex.size < k) {
    throw new IntegrityError(`only ${byIndex.size} of the ${k} pieces needed to rebuild ${objectId} are readable (${k}+${m} coding; present: ${[...byIndex.keys()].sort((a, b) => a - b).join(', ') || 'none'})`);
  }
  const size = byIndex.values().next().value!.length;
  const all = new Uint8Array(size * (k + m));
  const present = Array.from({ length: k + m }, (_, i) => byIndex.has(i));
  for (const [i, payload] of byIndex) all.set(payload, i * size);
  if (present.slice(0, k).some((p) => !p)) reconstructData(all, k, m, present);
  const object = Buffer.from(all.buffer, all.byteOffset, objectLength);
  if (sha256(object).toString('hex') !== objectSha256) throw new IntegrityError(`the pieces of ${objectId} do not rebuild the object their headers name (SHA-256 mismatch)`);
  return object;
}
