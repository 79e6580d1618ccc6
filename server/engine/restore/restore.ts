/**
 * Restore: manifest → the chunks the selected files need, fetched in order with read-ahead (chunk-window.ts,
 * a budget in bytes; decoding runs in the codec threads) → files written byte for byte, several at once,
 * each with positioned writes at its extents' offsets (all-zero blocks left as holes), then owner, mode,
 * xattrs and times; hard links linked to the first restored path of their inode; symlinks last; directory
 * metadata at the very end. Nothing is ever written through a link (restore-writer.ts). A file whose data cannot be read is removed, never left
 * short; the other files are restored and kept, and the restore fails naming the lost files and saying how
 * much it restored. With allowPartial (partial-restore.ts) lost shards are found before writing, files
 * touching them are skipped, and the result reports restored and lost files instead of failing.
 */
import { type FileHandle, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type { BackupRow } from '../catalog/catalog';
import type { EngineContext } from '../context';
import { EngineError, needsOverwrite } from '../errors';
import { chunkAt, type ManifestEntry, parseEntry, resolveInside, slice } from '../repository/manifest';
import { canPreallocate, PREALLOCATE_MIN } from './preallocate';
import { RestoreTree, writeSparse } from './restore-writer';
import { WholeFileQueue } from './whole-file-queue';
import { ShardReader } from './shard-reader';
import { ChunkWindow } from './chunk-window';
import { forEachLimit } from '../for-each-limit';
import type { RestoreOptions, RestoreResult, SecurityLevel } from '../types';
import { readChunkTable } from '../repository/chunk-table';
import { lostShardsOf, type PartialPlan, planPartial, readableFraction } from './partial-restore';

/**
 * Decoded chunks fetched ahead of the writers, in bytes (chunks are about shard_size each). 12 MiB keeps two
 * codec threads fed: restores in turns with 24 MiB, caches dropped, took as long (1 GiB random 5.08-5.17 s
 * against 5.17-5.36; chat JSON 3.24-3.61 against 3.20-3.35; /usr/share 10.6-10.7 against 11.6), and the
 * command's peak memory fell by 12-16, 19-22 and 6-32 MiB. 48 held 24 MiB more than 24.
 */
const READ_AHEAD_BYTES = 12 * 1024 * 1024;
/**
 * Files being written at once: MAX_WRITERS large ones, each small one (up to SYNC_MAX, written whole on the
 * scan thread) counting as SMALL_WEIGHT of one, so up to 128 small files are in flight. They spend most of
 * their time waiting for a batch to the scan thread (whole-file-queue.ts): with 32 in flight the batches
 * were small (7.6 files each on /usr/share) and the restore waited on the round trips. /usr/share, 3 runs
 * each in turns: 32 at any size 5.76-6.01 s; 128 at any size 4.51-4.66 s, but 999 MiB of libraries and 1 GiB
 * of chat JSON (large files, 4 extents each in flight) took 0.2-0.4 s longer than with 32; 256 and 512
 * small files: 4.87-5.82 s.
 */
const MAX_WRITERS = 32;
const SMALL_WEIGHT = 1 / 4;
/**
 * Files up to this size are written whole, with synchronous calls: on the scan thread in batches
 * (whole-file.ts), or on this thread when they have extended attributes (restore-writer.ts).
 */
const SYNC_MAX = 1024 * 1024;
/**
 * Selected manifest lines kept in memory between the two passes (a few hundred bytes each), parsed again
 * one at a time in pass 2: parsed entries held ~2× the memory (10 MiB more heap for /usr/share's 52,000).
 */
const KEEP_ENTRIES = 200_000;
/** The longest the restore loop runs without letting the event loop turn. */
const TURN_MS = 20;
/** Extents of one file being written at once (positioned writes, so order does not matter). */
const PER_FILE = 4;

export interface RestoreProgress {
  bytesDone: number;
  bytesTotal: number;
  filesDone: number;
  filesTotal: number;
}

type Failure = { path: string; reason: string; e?: ManifestEntry };

export async function restoreBackup(ctx: EngineContext, row: BackupRow, opts: RestoreOptions, onProgress?: (p: RestoreProgress) => void): Promise<RestoreResult> {
  const started = Date.now();
  ctx.pool.startThreads(); // they load (~0.1 s of a core each) while the target and the manifest's records are prepared; the scan thread writes small files
  const target = path.resolve(opts.target);
  await prepareTarget(target, opts.overwrite ?? false);
  const tree = new RestoreTree(target, { overwrite: opts.overwrite ?? false, preserveSpecialBits: opts.preserveSpecialBits ?? false });
  const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel, true); // encrypted shards: their GCM tag is their check
  const { files, chunks } = row.manifestShards;
  await reader.load([...files, ...chunks]);

  const chunkIds = await readChunkTable(reader.lines(chunks));
  const selected = selector(opts);

  // Pass 1: which chunks the selected files need, how many extents read each (a hard link's other paths are
  // linked, not read), totals for progress, and which paths hard links name.
  const needed = new Set<number>();
  const uses = new Map<number, number>();
  const sizes = new Map<number, number>();
  const readers = new Set<string>();
  const linkTargets = new Set<string>();
  const progress: RestoreProgress = { bytesDone: 0, bytesTotal: 0, filesDone: 0, filesTotal: 0 };
  // The selected lines are kept for pass 2 when there are not too many (else the manifest is read again).
  let kept: string[] | null = [];
  for await (const line of reader.lines(files)) {
    const e = parseEntry(line);
    if (!selected(e)) continue;
    if (kept && kept.push(line) > KEEP_ENTRIES) kept = null;
    if (e.t === 'f') progress.filesTotal++;
    if (e.h) linkTargets.add(e.h);
    progress.bytesTotal += e.s ?? 0;
    for (const [k] of e.x ?? []) needed.add(k);
    // The same rule as pass 2: the first selected path of a group (keyed by its first path) is the one read.
    const key = e.h ?? e.p;
    if (e.t !== 'f' || readers.has(key)) continue;
    readers.add(key);
    for (const [k, , len] of e.x ?? []) {
      uses.set(k, (uses.get(k) ?? 0) + 1);
      sizes.set(k, (sizes.get(k) ?? 0) + len);
    }
  }
  readers.clear();
  const order = [...needed].sort((a, b) => a - b);
  await reader.load(order.map((k) => chunkAt(chunkIds, k)));
  // allow_partial_recovery: find the lost shards before writing anything (refused below the threshold).
  const plan: PartialPlan | null = opts.allowPartial ? await planPartial(ctx, row, reader, order.map((k) => chunkAt(chunkIds, k)), opts) : null;
  const lostIds = new Set(plan?.lost ?? []); // grows with shards that fail their checks while read
  const restored: { path: string; bytes: number }[] = [];

  const window = new ChunkWindow(
    {
      read: (k) => {
        const id = chunkAt(chunkIds, k);
        const p = plan?.lost.has(id) ? Promise.reject(new EngineError('INTEGRITY', `Missing required shards: shard ${id} has no readable replica.`)) : reader.read(id);
        p.catch(() => lostIds.add(id));
        return p;
      },
      // Every file using the chunk is written: a later decode writes into its memory.
      done: (data) => ctx.pool.giveBack(data),
    },
    order,
    uses,
    sizes,
    READ_AHEAD_BYTES,
  );

  const failed: Failure[] = [];
  const away = new WholeFileQueue((files) => ctx.pool.writeFiles(files));
  const dirs: ManifestEntry[] = [];
  const links: ManifestEntry[] = [];
  // Hard-link groups (key: the first path): the restored path the others link to, or null if it failed.
  // The first selected member is written — the first path itself, or a stand-in when a filter left it out.
  const groups = new Map<string, Promise<string | null>>();
  // Files being written. The first that fails other than by lost data (no room, no permission) stops the
  // restore: nothing new is started, the files in flight finish, then it fails naming that file.
  const writers = new Writers();
  let bytesWritten = 0;
  let turned = performance.now();
  const track = (task: Promise<unknown>, e: ManifestEntry) => writers.add(task, e.p, (e.s ?? 0) <= SYNC_MAX ? SMALL_WEIGHT : 1);
  const rest = kept ? null : selectedEntries(reader.lines(files), selected)[Symbol.asyncIterator]();
  for (let at = 0; !writers.failure; ) {
    let e: ManifestEntry;
    if (kept) {
      // The kept lines parsed again, one at a time, each dropped once parsed.
      if (at === kept.length) break;
      e = parseEntry(kept[at]!);
      kept[at++] = '';
    } else {
      const r = await rest!.next();
      if (r.done) break;
      e = r.value;
    }
    const dest = resolveInside(target, e.p);
    if (e.t === 'd') {
      try {
        await tree.dir(dest);
      } catch (err) {
        writers.fail(e.p, err);
        break;
      }
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
      track(
        first.then(async (firstDest) => {
          if (firstDest === null) failed.push({ path: e.p, reason: `it is a hard link of ${group}, which could not be restored`, e });
          else {
            await tree.hardLink(firstDest, dest);
            restored.push({ path: e.p, bytes: e.s ?? 0 });
            progress.filesDone++;
            progress.bytesTotal -= e.s ?? 0;
          }
        }),
        e,
      );
    } else if (plan && lostShardsOf(e, chunkIds, plan.lost).length) {
      // Known lost before writing: leave whatever is at dest alone rather than create and remove it.
      failed.push({ path: e.p, reason: 'its data lies in a lost shard', e });
      for (const [k] of e.x ?? []) window.release(k);
      if (group !== undefined) groups.set(group, Promise.resolve(null));
    } else {
      // Files are written concurrently, each with positioned writes at its extents' offsets.
      const task = writeFile(tree, away, dest, e, window, failed, progress).then((ok) => {
        if (!ok) return null;
        bytesWritten += e.s ?? 0;
        restored.push({ path: e.p, bytes: e.s ?? 0 });
        return dest;
      });
      track(task, e);
      if (group !== undefined) {
        groups.set(group, task);
        task.catch(() => undefined);
      }
    }
    await writers.below(MAX_WRITERS);
    if (performance.now() - turned > TURN_MS) {
      // Progress as often (not per entry: the listeners build objects), and the event loop turns (timers,
      // the threads' replies) while the manifest is read.
      onProgress?.(progress);
      await new Promise((resolve) => setImmediate(resolve));
      turned = performance.now();
    }
  }
  await writers.idle();
  window.close();
  if (writers.failure) {
    const { path: where, error } = writers.failure;
    const base =
      `Restore of backup ${row.id} to ${target} stopped: ${where} could not be written (${error.message}). ` +
      `${restored.length} file(s) (${bytesWritten} bytes) were restored; the others were not written.`;
    const room = ['ENOSPC', 'EDQUOT', 'EFBIG'].includes((error as NodeJS.ErrnoException).code ?? '');
    const fix = room ? 'Free space on the target (or choose a larger one)' : 'Fix the cause on the target';
    throw new EngineError('UNAVAILABLE', `${base} ${fix}, then restore again with --overwrite.`, {
      path: where,
      cause_code: (error as NodeJS.ErrnoException).code ?? null,
      files_restored: restored.length,
      bytes_restored: bytesWritten,
      without_hint: base,
      console_hint: `${fix}, then restore again into an empty directory (or over this one with "Overwrite existing files").`,
    }, { cause: error });
  }
  await forEachLimit(links, MAX_WRITERS, (e) => tree.symlink(e, resolveInside(target, e.p)));
  // Directories deepest first (a parent's mode may shut out what is below it); one depth at a time.
  const byDepth = new Map<number, ManifestEntry[]>();
  for (const e of dirs) {
    const depth = e.p.split('/').length;
    const level = byDepth.get(depth);
    if (level) level.push(e);
    else byDepth.set(depth, [e]);
  }
  for (const depth of [...byDepth.keys()].sort((a, b) => b - a)) {
    await forEachLimit(byDepth.get(depth)!, MAX_WRITERS, (e) => tree.finishDir(e, resolveInside(target, e.p)));
  }
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

/**
 * Writes one file at its extents' offsets, up to PER_FILE extents at once, as their chunks arrive. A file
 * whose data cannot be read is removed (a file we created: no link), never left short; returns false then.
 */
async function writeFile(
  tree: RestoreTree,
  writeAway: WholeFileQueue,
  dest: string,
  e: ManifestEntry,
  window: ChunkWindow,
  failed: Failure[],
  progress: RestoreProgress,
): Promise<boolean> {
  const extents = e.x ?? [];
  const offsets: number[] = [];
  let size = 0;
  for (const [, , len] of extents) {
    offsets.push(size);
    size += len;
  }
  let lost: Error | null = null;
  const releaseAll = (chunks?: Buffer[]) => {
    extents.forEach(([k], i) => window.release(k, chunks?.[i]));
  };
  // The chunks a small file took; when it cannot be written synchronously, the lanes below write them.
  let chunks: Buffer[] | undefined;
  if (size <= SYNC_MAX) {
    // A small file: written whole with synchronous calls once all its chunks are in hand (nothing is created
    // before, nor an existing entry replaced).
    try {
      chunks = await (extents.length === 1 ? window.get(extents[0]![0]).then((c) => [c]) : Promise.all(extents.map(([k]) => window.get(k))));
    } catch (err) {
      releaseAll();
      failed.push({ path: e.p, reason: (err as Error).message, e });
      return false;
    }
    const pieces = extents.map(([k, off, len], i) => slice(chunks![i]!, k, off, len));
    // Written on the scan thread, unless it has extended attributes (whole-file.ts).
    const away = RestoreTree.hasXattrs(e) ? null : tree.wholeFile(dest, e, pieces, size);
    if (away) {
      const sent = writeAway.write(away); // the pieces are copied before it returns
      releaseAll(chunks);
      const r = await sent;
      if (!r.done) await writeInTheWay(tree, dest, e, r.data, size);
      progress.bytesDone += size;
      progress.filesDone++;
      return true;
    }
    let done: boolean;
    try {
      done = tree.writeWholeSync(dest, e, pieces, size);
    } catch (err) {
      releaseAll(chunks);
      throw err;
    }
    if (done) {
      releaseAll(chunks);
      progress.bytesDone += size;
      progress.filesDone++;
      return true;
    }
  }
  if (!chunks) {
    try {
      // Nothing is created (nor an existing entry replaced) before the file's first chunk is in hand.
      if (extents.length) await window.ready(extents[0]![0]);
    } catch (err) {
      releaseAll();
      failed.push({ path: e.p, reason: (err as Error).message, e });
      return false;
    }
  }
  let fh: FileHandle;
  try {
    fh = await tree.createFile(dest);
  } catch (err) {
    releaseAll(chunks);
    throw err;
  }
  // Each extent's blocks are reserved just before its data is written (preallocate.ts): never a hole's.
  const reserveFor = size >= PREALLOCATE_MIN && canPreallocate() ? dest : undefined;
  let end = 0; // where the written data ends: the file's size unless it ends in a hole
  let next = 0;
  const lane = async () => {
    while (next < extents.length) {
      const i = next++;
      const [k, off, len] = extents[i]!;
      let chunk = chunks?.[i];
      try {
        if (lost) continue;
        let data: Buffer;
        try {
          chunk ??= await window.get(k);
          data = slice(chunk, k, off, len);
        } catch (err) {
          lost ??= err as Error;
          continue;
        }
        const wrote = await writeSparse(fh, data, offsets[i]!, reserveFor);
        end = Math.max(end, wrote);
        progress.bytesDone += len;
      } finally {
        window.release(k, chunk);
      }
    }
  };
  try {
    const lanes = await Promise.allSettled(Array.from({ length: Math.min(PER_FILE, extents.length) }, lane));
    for (const r of lanes) if (r.status === 'rejected') throw r.reason;
    if (!lost && end !== size) await fh.truncate(size);
  } catch (err) {
    await fh.close();
    await rm(dest, { force: true }); // created above and not filled: never left short
    throw err;
  }
  const why = lost as Error | null; // set by the lanes
  if (why) {
    await fh.close();
    failed.push({ path: e.p, reason: why.message, e });
    await rm(dest, { force: true });
    return false;
  }
  await tree.finishFile(fh, e, dest);
  progress.filesDone++;
  return true;
}

/** A small file whose path was taken (the manifest names it twice, or an overwrite): replaced the long way. */
async function writeInTheWay(tree: RestoreTree, dest: string, e: ManifestEntry, data: Buffer, size: number): Promise<void> {
  const fh = await tree.createFile(dest);
  try {
    if ((await writeSparse(fh, data, 0)) !== size) await fh.truncate(size);
  } catch (err) {
    await fh.close();
    await rm(dest, { force: true });
    throw err;
  }
  await tree.finishFile(fh, e, dest);
}

async function* selectedEntries(lines: AsyncIterable<string>, selected: (e: ManifestEntry) => boolean): AsyncGenerator<ManifestEntry> {
  for await (const line of lines) {
    const e = parseEntry(line);
    if (selected(e)) yield e;
  }
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

/**
 * The files being written: their load (the restore starts a new one below a limit; a file weighs 1, a small
 * one less) and the first that failed with an error other than lost data, which stops the restore.
 */
class Writers {
  private load = 0;
  private wake: (() => void) | null = null;
  failure: { path: string; error: Error } | null = null;

  add(task: Promise<unknown>, path: string, weight = 1): void {
    this.load += weight;
    task.then(
      () => this.settled(weight),
      (error: unknown) => {
        this.fail(path, error);
        this.settled(weight);
      },
    );
  }

  fail(path: string, error: unknown): void {
    this.failure ??= { path, error: error instanceof Error ? error : new Error(String(error)) };
  }

  /** Resolves once the files being written weigh less than n. */
  async below(n: number): Promise<void> {
    while (this.load >= n) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  /** Resolves once no file is being written. */
  async idle(): Promise<void> {
    while (this.load > 0) await new Promise<void>((resolve) => (this.wake = resolve));
  }

  private settled(weight: number): void {
    this.load -= weight;
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
