/**
 * Restore: manifest → the chunks the selected files need, fetched in order with read-ahead → files written
 * byte for byte (all-zero blocks left as holes), then owner, mode, xattrs and times; hard links linked to
 * the first restored path of their inode; symlinks last; directory metadata at the very end. Nothing is
 * ever written through a link (restore-writer.ts). A file whose data cannot be read is removed, never left
 * short; the other files are restored and kept, and the restore fails naming the lost files and saying how
 * much it restored. With allowPartial (partial-restore.ts) lost shards are found before writing, files
 * touching them are skipped, and the result reports restored and lost files instead of failing.
 */
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type { BackupRow } from '../catalog/catalog';
import type { EngineContext } from '../context';
import { EngineError, needsOverwrite } from '../errors';
import { chunkAt, type ManifestEntry, parseEntry, resolveInside, slice } from '../repository/manifest';
import { RestoreTree, writeSparse } from './restore-writer';
import { ShardReader } from './shard-reader';
import type { RestoreOptions, RestoreResult, SecurityLevel } from '../types';
import { readChunkTable } from '../repository/chunk-table';
import { lostShardsOf, type PartialPlan, planPartial, readableFraction } from './partial-restore';

const AHEAD = 6;
const MAX_WRITERS = 32;
const INLINE_EXTENTS = 4;

export interface RestoreProgress {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

type Failure = { path: string; reason: string; e?: ManifestEntry };

export async function restoreBackup(ctx: EngineContext, row: BackupRow, opts: RestoreOptions, onProgress?: (p: RestoreProgress) => void): Promise<RestoreResult> {
  const started = Date.now();
  const target = path.resolve(opts.target);
  await prepareTarget(target, opts.overwrite ?? false);
  const tree = new RestoreTree(target, { overwrite: opts.overwrite ?? false, preserveSpecialBits: opts.preserveSpecialBits ?? false });
  const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel);
  const { files, chunks } = row.manifestShards;
  await reader.load([...files, ...chunks]);

  const chunkIds = await readChunkTable(reader.lines(chunks));
  const selected = selector(opts);

  // Pass 1: which chunks the selected files need, totals for progress, and which paths hard links name.
  // (A link's extents are its first path's, so adding them costs nothing when both are selected.)
  const needed = new Set<number>();
  const linkTargets = new Set<string>();
  const progress: RestoreProgress = { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 };
  for await (const line of reader.lines(files)) {
    const e = parseEntry(line);
    if (!selected(e)) continue;
    if (e.t === 'f') progress.filesTotal++;
    if (e.h) linkTargets.add(e.h);
    progress.bytesTotal += e.s ?? 0;
    for (const [k] of e.x ?? []) needed.add(k);
  }
  const order = [...needed].sort((a, b) => a - b);
  await reader.load(order.map((k) => chunkAt(chunkIds, k)));
  // allow_partial_recovery: find the lost shards before writing anything (refused below the threshold).
  const plan: PartialPlan | null = opts.allowPartial ? await planPartial(ctx, row, reader, order.map((k) => chunkAt(chunkIds, k)), opts) : null;
  const lostIds = new Set(plan?.lost ?? []); // grows with shards that fail their checks while read
  const restored: { path: string; bytes: number }[] = [];

  // Chunks are consumed in increasing order, so a sliding window of prefetches is all the memory needed.
  const inFlight = new Map<number, Promise<Buffer>>();
  let cursor = 0;
  const chunk = (k: number): Promise<Buffer> => {
    for (const idx of inFlight.keys()) if (idx < k) inFlight.delete(idx);
    while (cursor < order.length && (inFlight.size < AHEAD || order[cursor]! <= k)) {
      const idx = order[cursor++]!;
      const id = chunkAt(chunkIds, idx);
      const p = plan?.lost.has(id) ? Promise.reject(new EngineError('INTEGRITY', `Missing required shards: shard ${id} has no readable replica.`)) : reader.read(id);
      p.catch(() => lostIds.add(id));
      inFlight.set(idx, p);
    }
    const p = inFlight.get(k);
    if (!p) throw new Error(`internal: chunk ${k} was not scheduled`);
    return p;
  };

  const failed: Failure[] = [];
  const dirs: ManifestEntry[] = [];
  const links: ManifestEntry[] = [];
  // Hard-link groups (key: the first path): the restored path the others link to, or null if it failed.
  // The first selected member is written — the first path itself, or a stand-in when a filter left it out.
  const groups = new Map<string, Promise<string | null>>();
  const writers = new Set<Promise<void>>();
  let bytesWritten = 0;
  for await (const line of reader.lines(files)) {
    const e = parseEntry(line);
    if (!selected(e)) continue;
    const dest = resolveInside(target, e.p);
    if (e.t === 'd') {
      await tree.dir(dest);
      dirs.push(e);
      continue;
    }
    if (e.t === 'l') {
      links.push(e);
      continue;
    }
    const group = e.h ?? (linkTargets.has(e.p) ? e.p : undefined);
    const first = group === undefined ? undefined : groups.get(group);
    if (first) {
      const firstDest = await first;
      if (firstDest === null) failed.push({ path: e.p, reason: `it is a hard link of ${group}, which could not be restored`, e });
      else {
        await tree.hardLink(firstDest, dest);
        restored.push({ path: e.p, bytes: e.s ?? 0 });
        progress.filesDone++;
        progress.bytesTotal -= e.s ?? 0;
      }
      continue;
    }
    if (plan && lostShardsOf(e, chunkIds, plan.lost).length) {
      // Known lost before writing: leave whatever is at dest alone rather than create and remove it.
      failed.push({ path: e.p, reason: 'its data lies in a lost shard', e });
      if (group !== undefined) groups.set(group, Promise.resolve(null));
      continue;
    }
    const extents = e.x ?? [];
    if (extents.length > INLINE_EXTENTS) {
      // A big file streams straight through, one chunk at a time.
      const ok = await writeStreaming(tree, dest, e, chunk, failed, progress);
      if (ok) bytesWritten += e.s ?? 0;
      if (ok) restored.push({ path: e.p, bytes: e.s ?? 0 });
      if (group !== undefined) groups.set(group, Promise.resolve(ok ? dest : null));
      onProgress?.(progress);
      continue;
    }
    // Small files: gather their bytes in order, then write them concurrently (each costs round trips).
    const pieces: Buffer[] = [];
    try {
      for (const [k, off, len] of extents) pieces.push(slice(await chunk(k), k, off, len));
    } catch (err) {
      failed.push({ path: e.p, reason: (err as Error).message, e });
      if (group !== undefined) groups.set(group, Promise.resolve(null));
      continue;
    }
    const task = (async () => {
      const fh = await tree.createFile(dest);
      let finished = false;
      try {
        await writeSparse(fh, pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces), 0);
        await fh.truncate(e.s ?? 0);
        finished = true;
      } finally {
        if (!finished) await fh.close();
      }
      await tree.finishFile(fh, e, dest);
      progress.bytesDone += e.s ?? 0;
      bytesWritten += e.s ?? 0;
      progress.filesDone++;
      restored.push({ path: e.p, bytes: e.s ?? 0 });
    })();
    writers.add(task);
    if (group !== undefined) groups.set(group, task.then(() => dest));
    void task.finally(() => writers.delete(task)).catch(() => undefined);
    while (writers.size >= MAX_WRITERS) await Promise.race(writers);
    onProgress?.(progress);
  }
  await Promise.all(writers);
  for (const e of links) await tree.symlink(e, resolveInside(target, e.p));
  for (const e of dirs.reverse()) await tree.finishDir(e, resolveInside(target, e.p));
  onProgress?.(progress);
  const lost = failed.map((f) => ({ path: f.path, bytes: f.e?.s ?? 0, shards: lostShardsOf(f.e, chunkIds, lostIds) }));
  if (failed.length && !plan) {
    // Everything readable was restored and stays; only the files named here are absent (never short).
    const names = failed.map((f) => f.path);
    const what =
      `Unable to recover backup ${row.id}: Missing required shards. Restored ${restored.length} file(s) (${bytesWritten} bytes) to ${target}; ${failed.length} file(s) could not be restored: ${names.slice(0, 20).join(', ')}${names.length > 20 ? ', …' : ''}. ` +
      `Cause: ${failed[0]!.reason}.`;
    throw new EngineError('INTEGRITY', `${what} Run \`plexichat-backup verify ${row.id}\` and \`repair\`, or restore what is readable with --allow-partial.`, {
      affected_files: names,
      files_restored: restored.length,
      bytes_restored: bytesWritten,
      lost,
      // The console's words for the way out (restore-job-run.ts).
      without_hint: what,
      console_hint: 'Verify and repair the backup on its page, or restore what is readable with "Allow partial restore".',
    });
  }
  const seconds = (Date.now() - started) / 1000;
  const partial = plan && {
    restored,
    lost,
    readable_fraction: readableFraction(plan.needed.size, [...lostIds].filter((id) => plan.needed.has(id)).length),
    recreated_shards: plan.recreated.map((r) => r.shard_id),
  };
  return {
    backup_id: row.id,
    target,
    files_restored: progress.filesDone,
    bytes_restored: bytesWritten,
    duration_seconds: seconds,
    throughput_mbps: Math.round((bytesWritten / 1048576 / Math.max(seconds, 0.001)) * 100) / 100,
    ...partial,
  };
}

async function writeStreaming(
  tree: RestoreTree,
  dest: string,
  e: ManifestEntry,
  chunk: (k: number) => Promise<Buffer>,
  failed: Failure[],
  progress: RestoreProgress,
): Promise<boolean> {
  const fh = await tree.createFile(dest);
  let pos = 0;
  let lost: Error | null = null;
  try {
    for (const [k, off, len] of e.x ?? []) {
      let data: Buffer;
      try {
        data = slice(await chunk(k), k, off, len);
      } catch (err) {
        lost = err as Error;
        break;
      }
      await writeSparse(fh, data, pos);
      pos += len;
      progress.bytesDone += len;
    }
    if (!lost) await fh.truncate(pos);
  } catch (err) {
    await fh.close();
    throw err;
  }
  if (lost) {
    await fh.close();
    failed.push({ path: e.p, reason: lost.message, e });
    await rm(dest, { force: true }); // never leave a short file behind (a file we created: no link)
    return false;
  }
  await tree.finishFile(fh, e, dest);
  progress.filesDone++;
  return true;
}

function selector(opts: RestoreOptions): (e: ManifestEntry) => boolean {
  const include = opts.include?.length ? picomatch(opts.include, { dot: true }) : null;
  const exact = opts.paths ? new Set(opts.paths) : null;
  const start = opts.dateRange?.start ? Date.parse(opts.dateRange.start) : -Infinity;
  const end = opts.dateRange?.end ? Date.parse(opts.dateRange.end) + (opts.dateRange.end.length <= 10 ? 86_400_000 - 1 : 0) : Infinity;
  if (Number.isNaN(start) || Number.isNaN(end)) throw new EngineError('INVALID', 'The date range is not valid: use dates such as 2024-01-31.');
  return (e) => {
    if (include && e.t !== 'd' && !include(e.p) && !include(path.posix.basename(e.p))) return false;
    if (include && e.t === 'd') return false; // parents are created as needed
    if (exact && (e.t === 'd' || !exact.has(e.p))) return false;
    if (e.t === 'f' && (e.mt < start || e.mt > end)) return false;
    return true;
  };
}

async function prepareTarget(target: string, overwrite: boolean): Promise<void> {
  await mkdir(target, { recursive: true });
  const st = await lstat(target);
  if (!st.isDirectory()) throw new EngineError('INVALID', `Restore target ${target} is not a directory.`);
  if (!overwrite && (await readdir(target)).length > 0) {
    throw needsOverwrite(`Restore target ${target} is not empty.`, 'Choose an empty directory, or pass --overwrite to replace files in it.');
  }
}
