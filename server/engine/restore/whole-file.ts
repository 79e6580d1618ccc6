/**
 * A whole small file of a restore, data and metadata, written with synchronous calls: the same flags, order
 * and checks as RestoreTree's createFile + writeSparse + finishFile, in one go. It runs on the pool's scan
 * thread (idle during a restore), so creating files (ext4 allocates the inode in open(): ~150 µs a file on
 * this VM) no longer holds the main thread, which meanwhile parses the manifest and feeds the codec threads.
 * Files with extended attributes stay on the main thread (RestoreTree.writeWholeSync), which has the library.
 *
 * Nothing here decides what is safe: the main thread sends a file only into a directory it has made or
 * checked (never a link), and the open below still refuses to follow a link or to reuse an existing entry.
 */
import { closeSync, constants, fchmodSync, fchownSync, ftruncateSync, futimesSync, openSync, unlinkSync, writeSync } from 'node:fs';
import { PREALLOCATE_MIN, reserveRuns } from './preallocate';

const { O_WRONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;
const SPARSE_BLOCK = 64 * 1024;
const ZERO = new Uint8Array(SPARSE_BLOCK);

/** What a thread needs to write one file: everything decided beforehand, nothing left to look up. */
export interface WholeFile {
  /** Absolute path inside the restore's target; its directory is a real one. */
  dest: string;
  /** The file's bytes, in order (their lengths add up to `size`). */
  pieces: Uint8Array[];
  size: number;
  /** fchown's arguments, or null to keep the owner the file was created with. */
  chown: [uid: number, gid: number] | null;
  mode: number;
  /** utimes' arguments: seconds (restore-writer.ts fsTime) or a Date before 1970. */
  times: [atime: number | Date, mtime: number | Date];
}

/**
 * Writes the file. False, with nothing done, when something is already at `dest` (the caller then takes the
 * long way, which replaces it only when overwriting); any other failure throws, and a file that failed
 * before its data was all written is removed. `beforeTimes` runs between chmod and utimes (extended attributes: setting them changes no time).
 */
export function writeWholeFile(f: WholeFile, beforeTimes?: () => void): boolean {
  let fd: number;
  try {
    fd = openSync(f.dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
  let written = false;
  try {
    const runs: [Uint8Array, number][] = [];
    let pos = 0;
    let end = 0;
    for (const piece of f.pieces) {
      end = Math.max(end, sparseRuns(piece, pos, (run, at) => runs.push([run, at])));
      pos += piece.length;
    }
    if (f.size >= PREALLOCATE_MIN) reserveRuns(fd, runs, f.dest);
    for (const [run, at] of runs) {
      for (let done = 0; done < run.length; ) done += writeSync(fd, run, done, run.length - done, at + done);
    }
    if (end !== f.size) ftruncateSync(fd, f.size);
    written = true;
    // chown first: it clears setuid/setgid, which chmod then sets (or not).
    if (f.chown) fchownSync(fd, f.chown[0], f.chown[1]);
    fchmodSync(fd, f.mode);
    beforeTimes?.();
    futimesSync(fd, f.times[0], f.times[1]);
  } finally {
    closeSync(fd);
    // A file this open created and could not fill (no room, an I/O error) is not left behind short.
    if (!written) unlinkQuietly(f.dest);
  }
  return true;
}

function unlinkQuietly(p: string): void {
  try {
    unlinkSync(p);
  } catch {
    // already gone; the error that brought us here is the one to report
  }
}

/** What became of one file: written, or not (something at its path: its bytes come back), or failed. */
export type WholeFileResult = { done: true } | { done: false; data: Uint8Array } | { done: false; error: string; code?: string };

/** What became of a batch of files, and the buffers their bytes were in (sent back: whole-file-queue.ts reuses them). */
export interface WrittenFiles {
  results: WholeFileResult[];
  buffers: ArrayBuffer[];
}

/** writeWholeFile for each file, each on its own; the buffers of their bytes go back (`buffers`, to transfer). */
export function writeWholeFiles(files: WholeFile[]): WrittenFiles {
  const buffers = new Set<ArrayBuffer>(); // files of one batch share a buffer (whole-file-queue.ts)
  for (const f of files) for (const p of f.pieces) buffers.add(p.buffer as ArrayBuffer);
  const results = files.map((f): WholeFileResult => {
    try {
      if (writeWholeFile(f)) return { done: true };
      const data = f.pieces.length === 1 ? f.pieces[0]! : new Uint8Array(Buffer.concat(f.pieces));
      buffers.add(data.buffer as ArrayBuffer);
      return { done: false, data };
    } catch (err) {
      return { done: false, error: (err as Error).message, code: (err as NodeJS.ErrnoException).code };
    }
  });
  return { results, buffers: [...buffers] };
}

/**
 * Calls `each` with the runs of `data` (which goes at `pos` in a new file) that are not whole all-zero
 * 64 KiB blocks: those are skipped so they stay holes. Returns where the last run ends (0 when none): the
 * caller truncates to the full size when the file may end in a hole.
 */
export function sparseRuns(data: Uint8Array, pos: number, each: (run: Uint8Array, at: number) => void): number {
  let runStart = -1;
  let lastEnd = 0;
  let i = 0;
  while (i < data.length) {
    const end = Math.min(data.length, i + SPARSE_BLOCK - ((pos + i) % SPARSE_BLOCK));
    const zero = Buffer.compare(data.subarray(i, end), ZERO.subarray(0, end - i)) === 0;
    if (zero && runStart >= 0) {
      each(data.subarray(runStart, i), pos + runStart);
      lastEnd = pos + i;
      runStart = -1;
    } else if (!zero && runStart < 0) runStart = i;
    i = end;
  }
  if (runStart >= 0) {
    each(data.subarray(runStart), pos + runStart);
    return pos + data.length;
  }
  return lastEnd;
}
