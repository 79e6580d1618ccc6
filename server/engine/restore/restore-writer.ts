/**
 * The file-system side of a restore, written so that a restore never follows a link it did not create:
 *
 * - directories are made one component at a time; each is lstat'ed, and anything that is not a directory
 *   (a symlink above all) is replaced when overwriting, refused otherwise — never traversed;
 * - a file is created with O_CREAT|O_EXCL|O_NOFOLLOW; an existing entry is first removed (unlink, or rm -r
 *   of a directory, which does not follow links inside it), so writing never reaches through a link or
 *   into another hard link of an existing file;
 * - ownership, mode and times are set on the open descriptor (fchown, fchmod, futimes), symlinks' with
 *   lchown/lutimes; extended attributes with l*xattr (the library never follows the last component).
 *   chown is skipped only when the new entry already has the owner (our uid, and the group its directory
 *   gives new entries); the xattr calls only when there is nothing to set or remove.
 *
 * What remains: Node has no openat(), so a process that swaps a directory of the target for a symlink
 * between our lstat and our open (someone else writing into the target *during* the restore) is not
 * defended against. A restore into a directory other users can write is not a safe operation anyway.
 */
import { constants, lstatSync } from 'node:fs';
import { type FileHandle, lchown, link, lstat, lutimes, mkdir, open, rm, symlink, unlink } from 'node:fs/promises';
import path from 'node:path';
import { listAttributesSync, removeAttributeSync, setAttributeSync } from '@napi-rs/xattr';
import { EngineError, needsOverwrite } from '../errors';
import { joinNs, type ManifestEntry } from '../repository/manifest';
import { reserveRuns } from './preallocate';
import { sparseRuns, type WholeFile, writeWholeFile } from './whole-file';

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW, O_DIRECTORY } = constants;
const S_ISGID = 0o2000;

export interface WriterOptions {
  overwrite: boolean;
  preserveSpecialBits: boolean;
}

const code = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** What a directory gives the entries made in it: their group (null when unknown), and whether it is setgid. */
interface DirInfo {
  gid: number | null;
  sgid: boolean;
}

export class RestoreTree {
  /** Directories known to be real directories (never links), with what new entries in them get. */
  private readonly safe = new Map<string, DirInfo>();
  /** Directories this restore created (they carry no attributes of their own yet). */
  private readonly made = new Set<string>();
  /** lchown/fchown only work as root; anyone else keeps their own ownership. */
  private readonly asRoot = process.getuid?.() === 0;
  private readonly euid = process.geteuid?.() ?? -1;
  private readonly egid = process.getegid?.() ?? -1;
  private readonly prefix: string;

  constructor(
    readonly target: string,
    private readonly opts: WriterOptions,
  ) {
    this.safe.set(target, this.infoOf(lstatSync(target, { throwIfNoEntry: false })));
    this.prefix = target.endsWith(path.sep) ? target : target + path.sep;
  }

  private infoOf(st: { mode: number; gid: number } | undefined): DirInfo {
    if (!st) return { gid: null, sgid: false };
    const sgid = (st.mode & S_ISGID) !== 0;
    return { gid: sgid ? st.gid : this.egid, sgid };
  }

  /** Makes `dir` (inside the target) a real directory, one component at a time. */
  async dir(dir: string): Promise<void> {
    if (this.safe.has(dir)) return;
    const parent = path.dirname(dir);
    if (parent === dir || !dir.startsWith(this.prefix)) throw new EngineError('INTEGRITY', `internal: ${dir} is not inside ${this.target}`);
    await this.dir(parent);
    // In a directory this restore made (mode 0700) only this restore creates entries: no lstat first, and
    // anything in the way (the manifest naming it twice) goes the long way below.
    if (this.made.has(parent) && (await this.makeDir(dir, parent))) return;
    const st = await lstat(dir).catch((err) => (code(err) === 'ENOENT' ? null : Promise.reject(err)));
    if (st && !st.isDirectory()) {
      if (!this.opts.overwrite) {
        throw needsOverwrite(`Refusing to restore through ${dir}: it is not a directory (a symlink or file is in the way).`, 'Pass --overwrite to replace it.', 'INTEGRITY');
      }
      await unlink(dir);
    }
    if (st && st.isDirectory()) {
      this.safe.set(dir, this.infoOf(st));
      return;
    }
    if (await this.makeDir(dir, parent)) return;
    // Someone made it meanwhile: accept it only if it is a real directory.
    if (!(await lstat(dir)).isDirectory()) throw Object.assign(new Error(`EEXIST: ${dir} appeared during the restore and is not a directory`), { code: 'EEXIST' });
    this.safe.set(dir, { gid: null, sgid: false });
  }

  /** mkdir: true when made, false when something is already there (EEXIST). */
  private async makeDir(dir: string, parent: string): Promise<boolean> {
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (err) {
      if (code(err) === 'EEXIST') return false;
      throw err;
    }
    // A new directory takes its parent's group and setgid bit when the parent is setgid (Linux, BSD groups).
    const up = this.safe.get(parent) ?? { gid: null, sgid: false };
    this.safe.set(dir, up.sgid ? { gid: up.gid, sgid: true } : { gid: up.gid === null ? null : this.egid, sgid: false });
    this.made.add(dir);
    return true;
  }

  /** Removes whatever is at `dest`, without following it; forgets directories that went with it. */
  async clear(dest: string): Promise<void> {
    const st = await lstat(dest).catch(() => null);
    if (!st) return;
    if (st.isDirectory()) {
      await rm(dest, { recursive: true, force: true });
      for (const d of this.safe.keys()) {
        if (d === dest || d.startsWith(dest + path.sep)) {
          this.safe.delete(d);
          this.made.delete(d);
        }
      }
    } else await unlink(dest);
  }

  /** Runs `create` (which must fail with EEXIST on an existing entry); when overwriting, replaces the entry. */
  private async exclusive<T>(dest: string, create: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await create();
      } catch (err) {
        if (code(err) !== 'EEXIST' || attempt >= 2) throw err;
        if (!this.opts.overwrite) throw needsOverwrite(`${dest} already exists (the manifest names it twice, or something else wrote into the target).`, 'Pass --overwrite to replace it.', 'INTEGRITY');
        await this.clear(dest);
      }
    }
  }

  /** A new, empty regular file at `dest` (mode 0600 until its metadata is applied). */
  async createFile(dest: string): Promise<FileHandle> {
    await this.dir(path.dirname(dest));
    return this.exclusive(dest, () => open(dest, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600));
  }

  /** A hard link at `dest` to `first`, a file this restore created. */
  async hardLink(first: string, dest: string): Promise<void> {
    await this.dir(path.dirname(dest));
    await this.exclusive(dest, () => link(first, dest));
  }

  async symlink(e: ManifestEntry, dest: string): Promise<void> {
    await this.dir(path.dirname(dest));
    await this.exclusive(dest, () => symlink(e.l ?? '', dest));
    if (this.needsChown(e, path.dirname(dest))) await lchown(dest, e.u!, e.g ?? -1);
    const [at, mt] = times(e);
    await lutimes(dest, at, mt);
  }

  /** Owner, mode, xattrs and times of a file we hold open, then closes it. */
  async finishFile(fh: FileHandle, e: ManifestEntry, dest: string): Promise<void> {
    try {
      await this.applyMeta(fh, e, dest, path.dirname(dest));
    } finally {
      await fh.close();
    }
  }

  /**
   * Whether an entry this restore made needs chown: only as root, and not when it already has the owner
   * (made by us, so our uid; the group its directory gives new entries, as far as known).
   */
  private needsChown(e: ManifestEntry, groupFrom: string): boolean {
    if (!this.asRoot || e.u === undefined) return false;
    if (e.u !== this.euid) return true;
    const gid = this.safe.get(groupFrom)?.gid ?? null;
    return e.g !== undefined && e.g !== gid;
  }

  /** A directory's metadata, set last (writing into it changes its mtime); never through a symlink. */
  async finishDir(e: ManifestEntry, dest: string): Promise<void> {
    const fh = await open(dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    try {
      // An existing directory (overwrite) may carry attributes the backup did not have.
      if (!this.made.has(dest)) for (const name of listXattrs(dest)) if (!e.xa || !(name in e.xa)) removeAttributeSync(dest, name);
      await this.applyMeta(fh, e, dest, dest);
    } finally {
      await fh.close();
    }
  }

  /** `groupFrom`: the directory whose DirInfo says which group the entry was made with (for a directory, itself). */
  private async applyMeta(fd: FileHandle, e: ManifestEntry, dest: string, groupFrom: string): Promise<void> {
    // chown first: it clears setuid/setgid, which chmod then sets (or not).
    if (this.needsChown(e, groupFrom)) await fd.chown(e.u!, e.g ?? -1);
    await fd.chmod(e.m & (this.opts.preserveSpecialBits ? 0o7777 : 0o777));
    setXattrs(e, dest);
    const [at, mt] = times(e);
    await fd.utimes(at, mt);
  }

  /**
   * What a thread needs to write a whole small file at `dest` (whole-file.ts), `pieces` its bytes in order;
   * null when the directory is not yet known safe (the caller then takes the long way, which makes and
   * checks it).
   */
  wholeFile(dest: string, e: ManifestEntry, pieces: Uint8Array[], size: number): WholeFile | null {
    const dir = path.dirname(dest);
    if (!this.safe.has(dir)) return null;
    return {
      dest,
      pieces,
      size,
      chown: this.needsChown(e, dir) ? [e.u!, e.g ?? -1] : null,
      mode: e.m & (this.opts.preserveSpecialBits ? 0o7777 : 0o777),
      times: times(e),
    };
  }

  /** Whether the entry has extended attributes this restore sets (only the main thread has the library). */
  static hasXattrs(e: ManifestEntry): boolean {
    return Object.keys(e.xa ?? {}).some((name) => name.startsWith('user.'));
  }

  /**
   * A whole small file, data and metadata, with synchronous calls on this thread (writeWholeFile, with its
   * extended attributes set before its times). False, with nothing done, when the directory is not yet known
   * safe or something is in the way: the caller then takes the asynchronous path.
   */
  writeWholeSync(dest: string, e: ManifestEntry, pieces: Uint8Array[], size: number): boolean {
    const f = this.wholeFile(dest, e, pieces, size);
    return f !== null && writeWholeFile(f, () => setXattrs(e, dest));
  }
}

function setXattrs(e: ManifestEntry, dest: string): void {
  for (const [name, value] of Object.entries(e.xa ?? {})) {
    // Only the user namespace is restored: trusted.* and security.* (file capabilities!) are privileges.
    if (name.startsWith('user.')) setAttributeSync(dest, name, Buffer.from(value, 'base64'));
  }
}

function listXattrs(p: string): string[] {
  try {
    return listAttributesSync(p).filter((n) => n.startsWith('user.'));
  } catch {
    return [];
  }
}

/**
 * A manifest time as Node's utimes wants it. A number is seconds; libuv turns it into a timespec and
 * truncates to the microsecond, and a double near 1.7e9 s is only exact to ~0.24 µs. So the value aims at
 * the middle of the wanted microsecond: truncation then lands exactly on it, within 1 µs of the stored
 * nanoseconds and never across a second. (Node treats a negative number as "now": pre-1970 times go as a
 * Date, to the millisecond.)
 */
export function fsTime(ms: number, sub?: number): number | Date {
  const ns = joinNs(ms, sub);
  if (ns < 0n) return new Date(ms);
  const sec = ns / 1_000_000_000n;
  const us = (ns % 1_000_000_000n) / 1000n;
  return Number(sec) + (Number(us) + 0.5) / 1e6;
}

function times(e: ManifestEntry): [atime: number | Date, mtime: number | Date] {
  const mt = fsTime(e.mt, e.mtn);
  return [e.at === undefined ? mt : fsTime(e.at, e.atn), mt];
}

/**
 * Writes `data` at `pos` of a new file, skipping all-zero blocks so they stay holes (whole-file.ts
 * sparseRuns). Returns where the last byte written ends (0 when all of it was zeros): the caller truncates
 * to the full size when the file may end in a hole. `reserveFor`: the file's path, to reserve the blocks
 * about to be written first (preallocate.ts; throws ENOSPC naming it when they do not fit).
 */
export async function writeSparse(fh: FileHandle, data: Buffer, pos: number, reserveFor?: string): Promise<number> {
  const runs: [Uint8Array, number][] = [];
  const end = sparseRuns(data, pos, (run, at) => runs.push([run, at]));
  if (reserveFor !== undefined) reserveRuns(fh.fd, runs, reserveFor);
  for (const [run, at] of runs) {
    for (let done = 0; done < run.length; ) {
      const { bytesWritten } = await fh.write(run, done, run.length - done, at + done);
      done += bytesWritten;
    }
  }
  return end;
}
