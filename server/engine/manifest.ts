/**
 * The manifest of a backup: one JSON line per entry, in walk order (a directory before its contents).
 * File contents are extents into the backup's chunk table: [chunk index, offset in chunk, length].
 * Both the entry stream and the chunk table are themselves chunked and stored as encrypted shards.
 */
import path from 'node:path';
import { EngineError } from './errors';

export type EntryType = 'f' | 'd' | 'l';
export type Extent = [chunk: number, offset: number, length: number];

export interface ManifestEntry {
  /** Path inside the backup, '/'-separated, relative. */
  p: string;
  t: EntryType;
  /** Permission bits. */
  m: number;
  /** mtime in ms since the epoch. */
  mt: number;
  /** Size in bytes (files). */
  s?: number;
  /** Content extents (files). */
  x?: Extent[];
  /** Symlink target. */
  l?: string;
  /** Identity for incremental backups: inode and ctime (ms). */
  i?: number;
  ct?: number;
}

/** A path from a manifest must stay inside the restore target: no absolute paths, no '..', no NUL. */
export function checkEntryPath(p: string): string {
  const bad =
    typeof p !== 'string' ||
    p === '' ||
    p.includes('\0') ||
    p.includes('\\') ||
    p.startsWith('/') ||
    /^[A-Za-z]:/.test(p) ||
    p.split('/').some((part) => part === '' || part === '.' || part === '..');
  if (bad) {
    throw new EngineError('INTEGRITY', `Refusing manifest path ${JSON.stringify(p)}: it would escape the restore target. The manifest may be tampered with.`);
  }
  return p;
}

export function resolveInside(target: string, p: string): string {
  const full = path.resolve(target, ...checkEntryPath(p).split('/'));
  const rel = path.relative(target, full);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new EngineError('INTEGRITY', `Refusing manifest path ${JSON.stringify(p)}: it would escape the restore target.`);
  }
  return full;
}

export function parseEntry(line: string): ManifestEntry {
  const e = JSON.parse(line) as ManifestEntry;
  checkEntryPath(e.p);
  if (e.t !== 'f' && e.t !== 'd' && e.t !== 'l') throw new EngineError('INTEGRITY', `Manifest entry ${JSON.stringify(e.p)} has an unknown type.`);
  return e;
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
