/**
 * Reserving a restored file's blocks before its data is written (fallocate(2), through the project's addon
 * native/fallocate, built by `npm ci`), as restic does. Without it ext4 reserves blocks only as dirty pages
 * wait to be written back (delayed allocation), and once those dirty pages near half of the free space it
 * starts writing them back and allocating block by block while the restore writes: restoring /usr/share
 * (578 MiB, 48,181 files) into an ext4 of 1.4 GB took 6.2-6.4 s against 5.4 s into one of 2.6 GB, where
 * restic took 5.5 s into either. With the files of PREALLOCATE_MIN or more reserved first: 5.6-5.7 s. A target
 * without room now fails on the file that does not fit, before its data is written.
 *
 * An optimisation only: where the addon is not built, or the file system cannot reserve (EOPNOTSUPP: vfat,
 * some network file systems), files are written as before. Only the ranges about to be written are reserved
 * (reserveRuns: a small file's runs at once, a large file's extent by extent, just before each is written):
 * the holes of a sparse file are never reserved, so a 2 GiB disk image holding 1 MiB of data restores into a
 * small file system, and a reservation fails only where the data itself would not fit.
 */
import { constants } from 'node:os';
import { getSystemErrorName } from 'node:util';
import { loadAddon } from '../native-addon';

interface Fallocate {
  allocate(fd: number, offset: number, length: number): number;
}

/**
 * Files smaller than this are not reserved first. A call costs ~15 µs on the benchmark's VM; /usr/share's
 * 46,615 files under 64 KiB hold 168 of its 578 MiB. Reserving every file: 5.8-6.0 s; from 64 KiB: 5.6-5.7 s.
 */
export const PREALLOCATE_MIN = 64 * 1024;

let addon: Fallocate | null | undefined;

/** The addon, loaded on first use; null where it was not built (a warning from scripts/build-native.mjs said so). */
function native(): Fallocate | null {
  if (addon === undefined) addon = loadAddon<Fallocate>('fallocate');
  return addon;
}

/** Whether this process can reserve blocks (the addon is built and loads). */
export const canPreallocate = (): boolean => native() !== null;

/** errno values that mean the range cannot be stored: the restore of that file must fail, named. */
const NO_ROOM = new Set([constants.errno.ENOSPC, constants.errno.EDQUOT, constants.errno.EFBIG]);

/**
 * Reserves [offset, offset + length) of the open file `fd` (at `dest`), extending it to cover the range.
 * Throws, as a failed write would (code ENOSPC, EDQUOT or EFBIG), when the file system has no room for it;
 * any other refusal (no support, no addon) leaves the file as it was, to be written without a reservation.
 */
export function preallocate(fd: number, offset: number, length: number, dest: string): void {
  const fa = native();
  if (!fa || length <= 0) return;
  const err = fa.allocate(fd, offset, length);
  if (err === 0 || !NO_ROOM.has(err)) return;
  const code = getSystemErrorName(-err);
  const why = code === 'ENOSPC' ? 'no space left on device' : code === 'EDQUOT' ? 'disk quota exceeded' : 'file too large';
  throw Object.assign(new Error(`${code}: ${why}, fallocate '${dest}'`), { code, errno: -err, syscall: 'fallocate', path: dest });
}

/**
 * Reserves the ranges `runs` (data and where it goes, in order) will fill, adjacent runs as one range: one call
 * for data without holes. Throws as preallocate does when they do not fit.
 */
export function reserveRuns(fd: number, runs: [Uint8Array, number][], dest: string): void {
  for (let i = 0; i < runs.length; ) {
    const from = runs[i]![1];
    let to = from + runs[i]![0].length;
    for (i++; i < runs.length && runs[i]![1] === to; i++) to += runs[i]![0].length;
    preallocate(fd, from, to - from, dest);
  }
}
