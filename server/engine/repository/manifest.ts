/**
 * The manifest of a backup: one JSON line per entry, in walk order (a directory before its contents).
 * File contents are extents into the backup's chunk table: [chunk index, offset in chunk, length].
 * Both the entry stream and the chunk table are themselves chunked and stored as encrypted shards.
 *
 * Storage is untrusted: `parseEntry` validates every field's type and range, so a damaged or forged line
 * is an INTEGRITY error — never a crash, a path outside the target, or a huge allocation.
 */
import path from 'node:path';
import { EngineError } from '../errors';

export type EntryType = 'f' | 'd' | 'l';
export type Extent = [chunk: number, offset: number, length: number];

export interface ManifestEntry {
  /** Path inside the backup, '/'-separated, relative. */
  p: string;
  t: EntryType;
  /** Permission bits, setuid/setgid/sticky included (restore drops those unless asked). */
  m: number;
  /** mtime in ms since the epoch: floored when `mtn` is present (new manifests), rounded in older ones. */
  mt: number;
  /** The nanoseconds of the mtime within its millisecond (0–999,999); absent in older manifests. */
  mtn?: number;
  /** atime, in the same two fields. */
  at?: number;
  atn?: number;
  /** Size in bytes (files). */
  s?: number;
  /** Content extents (files). */
  x?: Extent[];
  /** Symlink target. */
  l?: string;
  /** Identity for incremental backups: inode and ctime (ms, floored when `ctn` is present, and its ns). */
  i?: number;
  ct?: number;
  ctn?: number;
  /** Owner uid and gid. */
  u?: number;
  g?: number;
  /** Hard link: the path of this inode's first entry (same dev+ino); `x` repeats that entry's extents. */
  h?: string;
  /** Extended attributes: name → base64 value. */
  xa?: Record<string, string>;
  /**
   * SHA-256 (hex) of the file's bytes, computed when a backup read them (restore drills compare it). A file an
   * incremental backup reuses without reading carries its base's: the extents name the same bytes. Absent in
   * older manifests, and on files reused from one.
   */
  sha?: string;
  /**
   * Entropy sample of the content in hundredths of a bit per byte (0–800): the lower of its first and a middle
   * 64 KiB window (entropy.ts). The next backup compares against it to notice content that became random
   * (ransomware signals). Absent in older manifests and on files too small to judge.
   */
  en?: number;
}

/**
 * A manifest line (without its newline): the entry's fields always in the same order, whatever order the
 * backup set them in. A file an incremental backup reuses then gives the very line its base has as long as
 * its extents keep their chunk-table indices (up to the first changed file: new chunks shift the rest), so
 * that stretch of the manifest is the base's byte for byte and deduplicates against it (the manifest is
 * chunked by content like file data): an unchanged incremental stores no new manifest.
 */
export function manifestLine(e: ManifestEntry): string {
  // Every field is named (the type says so: a field added to ManifestEntry and not here fails to compile);
  // those left undefined are left out by JSON.stringify.
  const ordered: { [K in keyof Required<ManifestEntry>]: ManifestEntry[K] } = {
    p: e.p,
    t: e.t,
    m: e.m,
    mt: e.mt,
    mtn: e.mtn,
    at: e.at,
    atn: e.atn,
    u: e.u,
    g: e.g,
    s: e.s,
    i: e.i,
    ct: e.ct,
    ctn: e.ctn,
    l: e.l,
    h: e.h,
    xa: e.xa,
    x: e.x,
    sha: e.sha,
    en: e.en,
  };
  return JSON.stringify(ordered);
}

/** Bounds on what a line may carry (far above what Linux filesystems hold; a forged line stays small). */
export const XATTR_LIMITS = { names: 128, nameBytes: 255, valueBytes: 65536, totalBytes: 262144 };
const MAX_PATH = 4096;
const MAX_LINE = 16 * 1024 * 1024;
/** JavaScript Date's range, in ms. */
const MAX_TIME_MS = 8.64e15;
const MAX_CHUNK = 2 ** 34;

/** A path from a manifest must stay inside the restore target: no absolute paths, no '..', no NUL. */
export function checkEntryPath(p: string): string {
  if (!isSafePath(p)) {
    throw new EngineError('INTEGRITY', `Refusing manifest path ${JSON.stringify(String(p).slice(0, 200))}: it would escape the restore target. The manifest may be tampered with.`);
  }
  return p;
}

/**
 * Relative, no NUL or backslash, no drive letter, and no empty, '.' or '..' segment. One pass over the string
 * without allocating: it runs for every entry of every manifest read (an incremental loads its base's).
 */
function isSafePath(p: unknown): boolean {
  if (typeof p !== 'string' || p === '' || p.length > MAX_PATH) return false;
  if (p.length >= 2 && p.charCodeAt(1) === 58 /* : */ && isAsciiLetter(p.charCodeAt(0))) return false;
  let start = 0;
  for (let i = 0; i <= p.length; i++) {
    const c = i < p.length ? p.charCodeAt(i) : 47;
    if (c === 0 || c === 92 /* \\ */) return false;
    if (c !== 47 /* / */) continue;
    const len = i - start;
    if (len === 0) return false;
    if (p.charCodeAt(start) === 46 /* . */ && (len === 1 || (len === 2 && p.charCodeAt(start + 1) === 46))) return false;
    start = i + 1;
  }
  return true;
}

const isAsciiLetter = (c: number) => (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

/**
 * The name of an uploaded payload becomes a manifest path, so it must be one restore accepts: refused up
 * front (INVALID), before a backup that could never be restored is made.
 */
export function checkPayloadName(name: unknown): string {
  try {
    return checkEntryPath(name as string);
  } catch {
    throw new EngineError('INVALID', `Payload name ${JSON.stringify(String(name).slice(0, 200))} is not allowed: use a relative name such as "data.json" (no leading "/", no "..", no empty or "." parts, no backslash or NUL).`);
  }
}

/**
 * The restore path of manifest path p under target (an absolute, resolved folder). checkEntryPath allows only
 * relative paths of plain names (no empty, '.' or '..' part), so joining cannot leave the target; joined by
 * hand because path.resolve costs ~3 KB of garbage a call (a restore calls this for every entry).
 */
export function resolveInside(target: string, p: string): string {
  const rel = checkEntryPath(p);
  const base = target.endsWith(path.sep) ? target : target + path.sep;
  return base + (path.sep === '/' ? rel : rel.split('/').join(path.sep));
}

/** Splits a nanosecond timestamp into the manifest's (floored ms, ns within the ms) pair. */
export function splitNs(ns: bigint): [ms: number, sub: number] {
  let ms = ns / 1_000_000n;
  let sub = ns % 1_000_000n;
  if (sub < 0n) {
    sub += 1_000_000n;
    ms -= 1n;
  }
  return [Number(ms), Number(sub)];
}

/** The nanosecond timestamp of a (ms, sub) pair; an old manifest's ms alone means its exact millisecond. */
export function joinNs(ms: number, sub?: number): bigint {
  return BigInt(ms) * 1_000_000n + BigInt(sub ?? 0);
}

function bad(e: { p?: unknown }, why: string): EngineError {
  const where = typeof e.p === 'string' ? JSON.stringify(e.p.slice(0, 200)) : 'without a path';
  return new EngineError('INTEGRITY', `Manifest entry ${where} is malformed (${why}). The backup's manifest is damaged or tampered with.`);
}

const isInt = (v: unknown, min: number, max: number): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A time in ms and its optional nanoseconds (`sub`): whole numbers in range, the ns never without the ms. */
function readTime(r: Record<string, unknown>, e: ManifestEntry, ms: 'mt' | 'at' | 'ct', sub: 'mtn' | 'atn' | 'ctn', required: boolean): void {
  const v = r[ms];
  if (v === undefined && !required) {
    if (r[sub] !== undefined) throw bad(e, `${sub} without ${ms}`);
    return;
  }
  if (!isInt(v, -MAX_TIME_MS, MAX_TIME_MS)) throw bad(e, ms);
  e[ms] = v;
  const n = r[sub];
  if (n === undefined) return;
  if (!isInt(n, 0, 999_999)) throw bad(e, sub);
  e[sub] = n;
}

export function parseEntry(line: string): ManifestEntry {
  if (typeof line !== 'string' || line.length > MAX_LINE) throw bad({}, 'the line is too long');
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    throw bad({}, 'not JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad({}, 'not an object');
  const r = raw as Record<string, unknown>;
  checkEntryPath(r.p as string);
  if (r.t !== 'f' && r.t !== 'd' && r.t !== 'l') throw new EngineError('INTEGRITY', `Manifest entry ${JSON.stringify(r.p)} has an unknown type.`);
  // Only known fields are copied: whatever else the line holds (`__proto__` included) is ignored.
  const e: ManifestEntry = { p: r.p as string, t: r.t, m: 0, mt: 0 };
  if (!isInt(r.m, 0, 0o7777)) throw bad(e, 'mode');
  e.m = r.m;
  readTime(r, e, 'mt', 'mtn', true);
  readTime(r, e, 'at', 'atn', false);
  readTime(r, e, 'ct', 'ctn', false);
  if (r.i !== undefined) {
    if (!isInt(r.i, 0, Number.MAX_SAFE_INTEGER)) throw bad(e, 'i');
    e.i = r.i;
  }
  if (r.u !== undefined) {
    if (!isInt(r.u, 0, 0xffff_ffff)) throw bad(e, 'u');
    e.u = r.u;
  }
  if (r.g !== undefined) {
    if (!isInt(r.g, 0, 0xffff_ffff)) throw bad(e, 'g');
    e.g = r.g;
  }
  if (e.t === 'f') parseContent(r, e);
  else if (r.s !== undefined || r.x !== undefined || r.h !== undefined) throw bad(e, 'content on a non-file');
  if (e.t === 'l') {
    if (typeof r.l !== 'string' || r.l === '' || r.l.length > MAX_PATH || r.l.includes('\0')) throw bad(e, 'symlink target');
    e.l = r.l;
  } else if (r.l !== undefined) throw bad(e, 'symlink target on a non-link');
  if (r.xa !== undefined) e.xa = parseXattrs(r.xa, e);
  return e;
}

function parseContent(r: Record<string, unknown>, e: ManifestEntry): void {
  const size = r.s ?? 0;
  if (!isInt(size, 0, Number.MAX_SAFE_INTEGER)) throw bad(e, 'size');
  if (r.s !== undefined) e.s = size;
  if (r.x !== undefined) {
    if (!Array.isArray(r.x)) throw bad(e, 'extents');
    let sum = 0;
    for (const x of r.x as unknown[]) {
      if (!Array.isArray(x) || x.length !== 3) throw bad(e, 'extent');
      const [k, off, len] = x as unknown[];
      if (!isInt(k, 0, MAX_CHUNK) || !isInt(off, 0, Number.MAX_SAFE_INTEGER) || !isInt(len, 1, Number.MAX_SAFE_INTEGER)) throw bad(e, 'extent');
      sum += len;
      if (sum > size) throw bad(e, 'extents longer than the size');
    }
    // Arrays JSON.parse made, each checked to be exactly three whole numbers: kept as they are.
    e.x = r.x as Extent[];
    if (sum !== size) throw bad(e, 'extents do not add up to the size');
  } else if (size !== 0) throw bad(e, 'a non-empty file without extents');
  if (r.sha !== undefined) {
    if (typeof r.sha !== 'string' || !/^[0-9a-f]{64}$/.test(r.sha)) throw bad(e, 'content hash');
    e.sha = r.sha;
  }
  if (r.en !== undefined) {
    if (!isInt(r.en, 0, 800)) throw bad(e, 'entropy sample');
    e.en = r.en;
  }
  if (r.h !== undefined) {
    try {
      e.h = checkEntryPath(r.h as string);
    } catch {
      throw bad(e, 'hard link path');
    }
    if (e.h === e.p) throw bad(e, 'hard link to itself');
  }
}

function parseXattrs(v: unknown, e: ManifestEntry): Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(e, 'xattrs');
  const names = Object.keys(v);
  if (names.length > XATTR_LIMITS.names) throw bad(e, 'too many xattrs');
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  let total = 0;
  for (const name of names) {
    const value = (v as Record<string, unknown>)[name];
    if (name === '' || name.includes('\0') || Buffer.byteLength(name) > XATTR_LIMITS.nameBytes) throw bad(e, 'xattr name');
    if (typeof value !== 'string' || value.length > Math.ceil(XATTR_LIMITS.valueBytes / 3) * 4 || !BASE64.test(value)) throw bad(e, `xattr ${name}`);
    total += Buffer.byteLength(name) + (value.length / 4) * 3;
    if (total > XATTR_LIMITS.totalBytes) throw bad(e, 'xattrs too large');
    out[name] = value;
  }
  return out;
}

/** The bytes of an extent within its chunk; a chunk shorter than the manifest says is an integrity error. */
export function slice(data: Buffer, k: number, off: number, len: number): Buffer {
  if (off + len > data.length) throw new EngineError('INTEGRITY', `chunk ${k} is shorter than the manifest says`);
  return data.subarray(off, off + len);
}

/** The shard id of chunk k of a backup's chunk table. */
export function chunkAt(ids: string[], k: number): string {
  const id = ids[k];
  if (id === undefined) throw new EngineError('INTEGRITY', `The manifest refers to chunk ${k}, which its chunk table does not have. The backup's manifest is damaged.`);
  return id;
}
