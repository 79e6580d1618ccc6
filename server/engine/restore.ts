/**
 * Restore: manifest → the chunks the selected files need, fetched in order with read-ahead → files written
 * byte for byte, then modes and mtimes, symlinks last (so no restored link is ever followed while writing),
 * directory times at the very end. A file whose data cannot be read is removed, never left short, and the
 * restore fails naming it.
 */
import { chmod, lstat, lutimes, mkdir, open, readdir, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type { BackupRow } from './catalog';
import type { EngineContext } from './context';
import { EngineError } from './errors';
import { chunkAt, type ManifestEntry, parseEntry, resolveInside, slice } from './manifest';
import { ShardReader } from './shard-reader';
import type { RestoreOptions, RestoreResult, SecurityLevel } from './types';
import { readChunkTable } from './chunk-table';

const AHEAD = 6;
const MAX_WRITERS = 32;
const INLINE_EXTENTS = 4;

export interface RestoreProgress {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

export async function restoreBackup(ctx: EngineContext, row: BackupRow, opts: RestoreOptions, onProgress?: (p: RestoreProgress) => void): Promise<RestoreResult> {
  const started = Date.now();
  const target = path.resolve(opts.target);
  await prepareTarget(target, opts.overwrite ?? false);
  const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel);
  const { files, chunks } = row.manifestShards;
  await reader.load([...files, ...chunks]);

  const chunkIds = await readChunkTable(reader.lines(chunks));
  const selected = selector(opts);

  // Pass 1: which chunks the selected files need, and totals for progress.
  const needed = new Set<number>();
  const progress: RestoreProgress = { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 };
  for await (const line of reader.lines(files)) {
    const e = parseEntry(line);
    if (!selected(e)) continue;
    if (e.t === 'f') progress.filesTotal++;
    progress.bytesTotal += e.s ?? 0;
    for (const [k] of e.x ?? []) needed.add(k);
  }
  const order = [...needed].sort((a, b) => a - b);
  await reader.load(order.map((k) => chunkAt(chunkIds, k)));

  // Chunks are consumed in increasing order, so a sliding window of prefetches is all the memory needed.
  const inFlight = new Map<number, Promise<Buffer>>();
  let cursor = 0;
  const chunk = (k: number): Promise<Buffer> => {
    for (const idx of inFlight.keys()) if (idx < k) inFlight.delete(idx);
    while (cursor < order.length && (inFlight.size < AHEAD || order[cursor]! <= k)) {
      const idx = order[cursor++]!;
      const p = reader.read(chunkAt(chunkIds, idx));
      p.catch(() => undefined);
      inFlight.set(idx, p);
    }
    const p = inFlight.get(k);
    if (!p) throw new Error(`internal: chunk ${k} was not scheduled`);
    return p;
  };

  const failed: { path: string; reason: string }[] = [];
  const dirs: ManifestEntry[] = [];
  const links: ManifestEntry[] = [];
  const safeDirs = new Set<string>([target]);
  const writers = new Set<Promise<void>>();
  for await (const line of reader.lines(files)) {
    const e = parseEntry(line);
    if (!selected(e)) continue;
    const dest = resolveInside(target, e.p);
    if (e.t === 'd') {
      await ensureDir(target, dest, safeDirs);
      dirs.push(e);
      continue;
    }
    if (e.t === 'l') {
      links.push(e);
      continue;
    }
    await ensureDir(target, path.dirname(dest), safeDirs);
    const extents = e.x ?? [];
    if (extents.length > INLINE_EXTENTS) {
      // A big file streams straight through, one chunk at a time.
      if (await writeStreaming(dest, e, extents, chunk, opts.overwrite ?? false, failed, progress)) await finish(dest, e, progress);
      onProgress?.(progress);
      continue;
    }
    // Small files: gather their bytes in order, then write them concurrently (each costs round trips).
    const pieces: Buffer[] = [];
    try {
      for (const [k, off, len] of extents) pieces.push(slice(await chunk(k), k, off, len));
    } catch (err) {
      failed.push({ path: e.p, reason: (err as Error).message });
      continue;
    }
    const task = (async () => {
      await writeFile(dest, pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces), { flag: opts.overwrite ? 'w' : 'wx', mode: 0o600 });
      progress.bytesDone += e.s ?? 0;
      await finish(dest, e, progress);
    })();
    writers.add(task);
    void task.finally(() => writers.delete(task)).catch(() => undefined);
    while (writers.size >= MAX_WRITERS) await Promise.race(writers);
    onProgress?.(progress);
  }
  await Promise.all(writers);
  for (const e of links) {
    const dest = resolveInside(target, e.p);
    await ensureDir(target, path.dirname(dest), safeDirs);
    await symlink(e.l ?? '', dest);
    await lutimes(dest, new Date(e.mt), new Date(e.mt)).catch(() => undefined);
  }
  for (const e of dirs.reverse()) {
    const dest = resolveInside(target, e.p);
    await chmod(dest, e.m);
    await utimes(dest, new Date(e.mt), new Date(e.mt));
  }
  onProgress?.(progress);
  if (failed.length) {
    const names = failed.map((f) => f.path);
    throw new EngineError(
      'INTEGRITY',
      `Unable to recover backup ${row.id}: Missing required shards. ${failed.length} file(s) could not be restored: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}. ` +
        `Cause: ${failed[0]!.reason}. Run \`plexichat-backup verify ${row.id}\` and \`repair\`, or restore the other files with --include.`,
      { affected_files: names },
    );
  }
  const seconds = (Date.now() - started) / 1000;
  return {
    backup_id: row.id,
    target,
    files_restored: progress.filesDone,
    bytes_restored: progress.bytesDone,
    duration_seconds: seconds,
    throughput_mbps: Math.round((progress.bytesDone / 1048576 / Math.max(seconds, 0.001)) * 100) / 100,
  };
}

async function finish(dest: string, e: ManifestEntry, progress: RestoreProgress): Promise<void> {
  await chmod(dest, e.m);
  await utimes(dest, new Date(e.mt), new Date(e.mt));
  progress.filesDone++;
}

async function writeStreaming(
  dest: string,
  e: ManifestEntry,
  extents: NonNullable<ManifestEntry['x']>,
  chunk: (k: number) => Promise<Buffer>,
  overwrite: boolean,
  failed: { path: string; reason: string }[],
  progress: RestoreProgress,
): Promise<boolean> {
  const fh = await open(dest, overwrite ? 'w' : 'wx', 0o600);
  let ok = true;
  try {
    for (const [k, off, len] of extents) {
      let data: Buffer;
      try {
        data = slice(await chunk(k), k, off, len);
      } catch (err) {
        failed.push({ path: e.p, reason: (err as Error).message });
        ok = false;
        break;
      }
      await fh.write(data);
      progress.bytesDone += len;
    }
  } finally {
    await fh.close();
  }
  if (!ok) await rm(dest, { force: true }); // never leave a short file behind
  return ok;
}

function selector(opts: RestoreOptions): (e: ManifestEntry) => boolean {
  const include = opts.include?.length ? picomatch(opts.include, { dot: true }) : null;
  const start = opts.dateRange?.start ? Date.parse(opts.dateRange.start) : -Infinity;
  const end = opts.dateRange?.end ? Date.parse(opts.dateRange.end) + (opts.dateRange.end.length <= 10 ? 86_400_000 - 1 : 0) : Infinity;
  if (Number.isNaN(start) || Number.isNaN(end)) throw new EngineError('INVALID', 'The date range is not valid: use dates such as 2024-01-31.');
  return (e) => {
    if (include && e.t !== 'd' && !include(e.p) && !include(path.posix.basename(e.p))) return false;
    if (include && e.t === 'd') return false; // parents are created as needed
    if (e.t === 'f' && (e.mt < start || e.mt > end)) return false;
    return true;
  };
}

async function prepareTarget(target: string, overwrite: boolean): Promise<void> {
  await mkdir(target, { recursive: true });
  const st = await lstat(target);
  if (!st.isDirectory()) throw new EngineError('INVALID', `Restore target ${target} is not a directory.`);
  if (!overwrite && (await readdir(target)).length > 0) {
    throw new EngineError('INVALID', `Restore target ${target} is not empty. Choose an empty directory, or pass --overwrite to replace files in it.`);
  }
}

/** Creates a directory inside the target, refusing to pass through a symlink (which could lead outside). */
async function ensureDir(target: string, dir: string, safe: Set<string>): Promise<void> {
  if (safe.has(dir)) return;
  const parent = path.dirname(dir);
  if (parent !== dir && dir !== target) await ensureDir(target, parent, safe);
  try {
    const st = await lstat(dir);
    if (!st.isDirectory()) throw new EngineError('INTEGRITY', `Refusing to restore through ${dir}: it is not a directory (a symlink or file is in the way).`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dir, { mode: 0o700 });
  }
  safe.add(dir);
}
