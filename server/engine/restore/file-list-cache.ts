/**
 * The parsed file lists of recently browsed backups, so that paging and filtering a backup's files (the
 * console's backup page, 50 rows at a time) do not fetch, decrypt and parse its whole manifest again.
 *
 * - Consulted only after the caller was allowed to read the backup (the engine checks the backup row and
 *   writes the key-use audit first): the cache holds what any reader of the backup may see, nothing more.
 * - Keyed by backup id and the manifest's shard ids (content-addressed): a backup whose manifest is
 *   replaced (a catalog rebuilt from storage) misses and is read again; a deleted backup is dropped.
 * - Bounded by an estimate of its bytes (and a number of lists), least recently used first out. A list
 *   too large for the whole budget is never held: that backup is read from storage for every page, as before.
 * - Compact: columns (paths and typed arrays), not one object per file: 200,000 files of 80-character
 *   paths take about 29 MiB (counted as 45 MiB: characters at 2 bytes each, the worst case), within the
 *   64 MiB budget.
 * - Sorted per page (the console sorts a paged list on the server): paths are compared once, for a rank
 *   kept with the list, so a later page or another sort compares integers.
 */
import type { ListSort } from '../types';
import type { BackupFileEntry } from './browse';

/** What a file list may be ordered by; ties by path (code units), then manifest order: a total order for paging. */
export const FILE_SORT_KEYS = ['path', 'size', 'mtime'] as const;
export type FileSort = ListSort<(typeof FILE_SORT_KEYS)[number]>;

/** The fields a file is ordered by; `index` is its place in the manifest. */
export interface FileSortFields {
  path: string;
  size: number;
  mtime: number;
  index: number;
}

export function compareFiles(sort: FileSort, a: FileSortFields, b: FileSortFields): number {
  const by = sort.key === 'size' ? a.size - b.size : sort.key === 'mtime' ? a.mtime - b.mtime : 0;
  const c = by || (a.path < b.path ? -1 : a.path > b.path ? 1 : a.index - b.index);
  return sort.dir === 'asc' ? c : -c;
}

export const FILE_LIST_CACHE_BYTES = 64 * 1024 * 1024;
export const FILE_LIST_CACHE_LISTS = 32;

const TYPE_CODES = ['file', 'dir', 'symlink'] as const;
const MANIFEST_TYPES = ['f', 'd', 'l'] as const;
/** Per file: its two array slots (path, lower-case path). */
const SLOT_BYTES = 2 * 8;
/** Per file of the typed columns' capacity: size, mtime, mode, type, and its place in path order (made at the first sort). */
const COLUMN_BYTES = 8 + 8 + 4 + 1 + 4;
/** A string's header in V8; its characters are counted at 2 bytes (the worst case). */
const STRING_BYTES = 16;

/** One backup's file list in columns; `lower` shares the path string when it is already lower case. */
export class FileList {
  readonly paths: string[] = [];
  private readonly lower: string[] = [];
  private sizes = new Float64Array(1024);
  private mtimes = new Float64Array(1024);
  private modes = new Uint32Array(1024);
  private types = new Uint8Array(1024);
  /** Each file's place in path order (code units, then manifest order); made at the first sort. */
  private pathRank: Uint32Array | null = null;
  private textBytes = 0;

  /** An estimate of the memory this list holds. */
  get bytes(): number {
    return this.textBytes + this.sizes.length * COLUMN_BYTES;
  }

  get length(): number {
    return this.paths.length;
  }

  /** One manifest entry: path, type letter, size, mtime (ms) and mode. */
  add(e: { p: string; t: (typeof MANIFEST_TYPES)[number]; s?: number; mt: number; m: number }): void {
    const i = this.paths.length;
    if (i === this.sizes.length) this.grow();
    const low = e.p.toLowerCase();
    this.paths.push(e.p);
    this.lower.push(low === e.p ? e.p : low);
    this.sizes[i] = e.s ?? 0;
    this.mtimes[i] = e.mt;
    this.modes[i] = e.m;
    this.types[i] = MANIFEST_TYPES.indexOf(e.t);
    this.pathRank = null;
    this.textBytes += SLOT_BYTES + STRING_BYTES + 2 * e.p.length + (low === e.p ? 0 : STRING_BYTES + 2 * low.length);
  }

  entry(i: number): BackupFileEntry {
    return { path: this.paths[i]!, type: TYPE_CODES[this.types[i]!]!, size: this.sizes[i]!, mtime: new Date(this.mtimes[i]!).toISOString(), mode: this.modes[i]! };
  }

  /** The page of files whose path holds `needle` (lower case; none: every file), and how many match in all. */
  page(needle: string | undefined, offset: number, limit: number, sort?: FileSort): { entries: BackupFileEntry[]; total: number } {
    if (sort) return this.sortedPage(needle, offset, limit, sort);
    const entries: BackupFileEntry[] = [];
    if (!needle) {
      for (let i = offset; i < Math.min(this.length, offset + limit); i++) entries.push(this.entry(i));
      return { entries, total: this.length };
    }
    let total = 0;
    for (let i = 0; i < this.length; i++) {
      if (!this.lower[i]!.includes(needle)) continue;
      if (total >= offset && entries.length < limit) entries.push(this.entry(i));
      total++;
    }
    return { entries, total };
  }

  /** The matching files in compareFiles's order (by the path rank, no object per comparison), then the page of them. */
  private sortedPage(needle: string | undefined, offset: number, limit: number, sort: FileSort): { entries: BackupFileEntry[]; total: number } {
    let n = 0;
    const matching = new Uint32Array(this.length);
    for (let i = 0; i < this.length; i++) if (!needle || this.lower[i]!.includes(needle)) matching[n++] = i;
    const rank = this.ranks();
    const num = sort.key === 'size' ? this.sizes : sort.key === 'mtime' ? this.mtimes : null;
    const sign = sort.dir === 'asc' ? 1 : -1;
    const order = matching.subarray(0, n).sort((i, j) => sign * ((num ? num[i]! - num[j]! : 0) || rank[i]! - rank[j]!));
    return { entries: [...order.subarray(offset, offset + limit)].map((i) => this.entry(i)), total: n };
  }

  private ranks(): Uint32Array {
    if (this.pathRank) return this.pathRank;
    const { paths } = this;
    const byPath = new Uint32Array(this.length).map((_, i) => i).sort((i, j) => (paths[i]! < paths[j]! ? -1 : paths[i]! > paths[j]! ? 1 : i - j));
    const rank = new Uint32Array(this.length);
    byPath.forEach((i, place) => (rank[i] = place));
    return (this.pathRank = rank);
  }

  private grow(): void {
    const n = this.sizes.length * 2;
    const grown = <T extends Float64Array | Uint32Array | Uint8Array>(a: T, make: (n: number) => T): T => {
      const b = make(n);
      b.set(a);
      return b;
    };
    this.sizes = grown(this.sizes, (k) => new Float64Array(k));
    this.mtimes = grown(this.mtimes, (k) => new Float64Array(k));
    this.modes = grown(this.modes, (k) => new Uint32Array(k));
    this.types = grown(this.types, (k) => new Uint8Array(k));
  }
}

export class FileListCache {
  /** Insertion order is recency: the first entry is the least recently used. */
  private readonly lists = new Map<string, { version: string; list: FileList }>();
  /** Lists being read from storage: a second request for the same one waits for that read instead of its own. */
  private readonly loading = new Map<string, { version: string; done: Promise<FileList | null> }>();
  private held = 0;

  constructor(
    readonly maxBytes = FILE_LIST_CACHE_BYTES,
    readonly maxLists = FILE_LIST_CACHE_LISTS,
  ) {}

  /** The bytes (estimated) the cached lists take. */
  get bytes(): number {
    return this.held;
  }

  has(backupId: string): boolean {
    return this.lists.has(backupId);
  }

  /** The list of this backup as of this manifest version, if held; a list of another version is dropped. */
  get(backupId: string, version: string): FileList | undefined {
    const hit = this.lists.get(backupId);
    if (!hit) return undefined;
    this.lists.delete(backupId);
    if (hit.version !== version) {
      this.held -= hit.list.bytes;
      return undefined;
    }
    this.lists.set(backupId, hit);
    return hit.list;
  }

  /** Holds a complete list, dropping the least recently used ones to stay within the bounds. */
  set(backupId: string, version: string, list: FileList): void {
    this.drop(backupId);
    if (list.bytes > this.maxBytes) return;
    this.lists.set(backupId, { version, list });
    this.held += list.bytes;
    for (const [id, old] of this.lists) {
      if (this.held <= this.maxBytes && this.lists.size <= this.maxLists) break;
      this.lists.delete(id);
      this.held -= old.list.bytes;
    }
  }

  /** The read of this list in progress, if any: it settles with the list, or null when it was not kept. */
  pending(backupId: string, version: string): Promise<FileList | null> | undefined {
    const p = this.loading.get(backupId);
    return p?.version === version ? p.done : undefined;
  }

  /** Records a read in progress until `done` settles (never rejects for the waiters: they read on their own). */
  track(backupId: string, version: string, done: Promise<FileList | null>): void {
    const entry = { version, done: done.catch(() => null) };
    this.loading.set(backupId, entry);
    void entry.done.then(() => {
      if (this.loading.get(backupId) === entry) this.loading.delete(backupId);
    });
  }

  drop(backupId: string): void {
    const old = this.lists.get(backupId);
    if (!old) return;
    this.lists.delete(backupId);
    this.held -= old.list.bytes;
  }
}
