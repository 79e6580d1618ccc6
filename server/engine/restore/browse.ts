/**
 * Looking inside a backup without restoring it: its file list (from the manifest, filtered and paged) and
 * one file's bytes as a stream (for a download from the console). Every chunk read is authenticated like
 * in a restore, so a damaged shard ends the stream with an error — never with silently wrong bytes.
 */
import type { BackupRow } from '../catalog/catalog';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import { chunkAt, parseEntry, slice } from '../repository/manifest';
import { ShardReader } from './shard-reader';
import type { SecurityLevel } from '../types';
import { readChunkTable } from '../repository/chunk-table';
import { compareFiles, FileList, type FileListCache, type FileSort, type FileSortFields } from './file-list-cache';

export interface BackupFileEntry {
  path: string;
  type: 'file' | 'dir' | 'symlink';
  size: number;
  mtime: string;
  mode: number;
}

const TYPES = { f: 'file', d: 'dir', l: 'symlink' } as const;

/** What changes when a backup's manifest does: its data key and its (content-addressed) manifest shards. */
const manifestVersion = (row: BackupRow) => `${row.keyId}:${row.manifestShards.files.join(',')}`;

/**
 * A page of a backup's files. The caller has checked that the backup may be read (and audited the key use);
 * only then is `cache` consulted. On a miss the manifest is read and the whole list kept, if it fits.
 */
export async function listFiles(ctx: EngineContext, row: BackupRow, opts: { filter?: string; limit: number; offset: number; sort?: FileSort }, cache?: FileListCache): Promise<{ entries: BackupFileEntry[]; total: number }> {
  const needle = opts.filter?.trim().toLowerCase() || undefined;
  // A MAXIMUM backup's data key is opened with the key holders' shares for one operation and never kept; nor is its file list.
  const usable = row.securityLevel === 'maximum' ? undefined : cache;
  const version = manifestVersion(row);
  const hit = usable?.get(row.id, version);
  if (hit) return hit.page(needle, opts.offset, opts.limit, opts.sort);
  // A search box sends a request per keystroke: while one reads this manifest, the others wait for its list.
  const loading = usable?.pending(row.id, version);
  if (loading) {
    const list = await loading;
    if (list) return list.page(needle, opts.offset, opts.limit, opts.sort);
  }
  if (!usable) return (await readFiles(ctx, row, needle, opts)).page;
  let settle!: (list: FileList | null) => void;
  usable.track(row.id, version, new Promise((resolve) => (settle = resolve)));
  try {
    const { page, list } = await readFiles(ctx, row, needle, opts, { cache: usable, version });
    settle(list);
    return page;
  } catch (err) {
    settle(null);
    throw err;
  }
}

type FilePage = { entries: BackupFileEntry[]; total: number };

/** Reads the manifest: the page asked for, and the whole list when `keep` is given and it fits (then also cached). */
async function readFiles(
  ctx: EngineContext,
  row: BackupRow,
  needle: string | undefined,
  opts: { limit: number; offset: number; sort?: FileSort },
  keep?: { cache: FileListCache; version: string },
): Promise<{ page: FilePage; list: FileList | null }> {
  const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel);
  await reader.load(row.manifestShards.files);
  let list = keep ? new FileList() : null;
  const entries: BackupFileEntry[] = [];
  const top = opts.sort ? new TopFiles(opts.sort, opts.offset + opts.limit) : null;
  let total = 0;
  for await (const line of reader.lines(row.manifestShards.files)) {
    const e = parseEntry(line);
    if (list) {
      list.add(e);
      if (list.bytes > keep!.cache.maxBytes) list = null; // too large to keep: this page only
    }
    if (needle && !e.p.toLowerCase().includes(needle)) continue;
    if (top) top.offer({ path: e.p, size: e.s ?? 0, mtime: e.mt, index: total }, e);
    else if (total >= opts.offset && entries.length < opts.limit) entries.push(toEntry(e));
    total++;
  }
  if (list) keep!.cache.set(row.id, keep!.version, list);
  return { page: { entries: top ? top.page(opts.offset).map(toEntry) : entries, total }, list };
}

const toEntry = (e: ReturnType<typeof parseEntry>): BackupFileEntry => ({ path: e.p, type: TYPES[e.t], size: e.s ?? 0, mtime: new Date(e.mt).toISOString(), mode: e.m });

/** The first `keep` files in a sort order, from a stream, holding no more than those (a list not cached is not held whole). */
class TopFiles {
  private readonly held: { key: FileSortFields; e: ReturnType<typeof parseEntry> }[] = [];
  constructor(
    private readonly sort: FileSort,
    private readonly keep: number,
  ) {}

  offer(key: FileSortFields, e: ReturnType<typeof parseEntry>): void {
    const h = this.held;
    if (h.length === this.keep && compareFiles(this.sort, key, h[h.length - 1]!.key) >= 0) return;
    let lo = 0;
    let hi = h.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareFiles(this.sort, h[mid]!.key, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    h.splice(lo, 0, { key, e });
    if (h.length > this.keep) h.pop();
  }

  page(offset: number): ReturnType<typeof parseEntry>[] {
    return this.held.slice(offset).map((x) => x.e);
  }
}

/** One regular file of a backup: its size and a stream of its bytes, read chunk by chunk. */
export async function openFile(ctx: EngineContext, row: BackupRow, filePath: string): Promise<{ entry: BackupFileEntry; bytes: AsyncIterable<Buffer> }> {
  const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel);
  const { files, chunks } = row.manifestShards;
  await reader.load([...files, ...chunks]);
  let found: ReturnType<typeof parseEntry> | null = null;
  for await (const line of reader.lines(files)) {
    const e = parseEntry(line);
    if (e.p === filePath) {
      found = e;
      break;
    }
  }
  if (!found) throw new EngineError('NOT_FOUND', `Backup ${row.id} has no file "${filePath}"; list its files to see the exact path.`);
  if (found.t !== 'f') throw new EngineError('INVALID', `"${filePath}" in backup ${row.id} is a ${TYPES[found.t]}, not a file; restore it instead.`);
  const chunkIds = await readChunkTable(reader.lines(chunks));
  const extents = found.x ?? [];
  await reader.load([...new Set(extents.map(([k]) => chunkAt(chunkIds, k)))]);
  const entry: BackupFileEntry = { path: found.p, type: 'file', size: found.s ?? 0, mtime: new Date(found.mt).toISOString(), mode: found.m };
  async function* bytes(): AsyncIterable<Buffer> {
    let sent = 0;
    for (const [k, off, len] of extents) {
      let data: Buffer;
      try {
        data = slice(await reader.read(chunkAt(chunkIds, k)), k, off, len);
      } catch (err) {
        throw new EngineError('INTEGRITY', `File "${filePath}" of backup ${row.id} cannot be read: ${(err as Error).message}. Run \`plexichat-backup verify ${row.id}\` and \`repair\`.`, {}, { cause: err });
      }
      sent += data.length;
      yield data;
    }
    if (sent !== entry.size) throw new EngineError('INTEGRITY', `File "${filePath}" of backup ${row.id} has ${sent} bytes where the manifest says ${entry.size}.`);
  }
  return { entry, bytes: bytes() };
}
