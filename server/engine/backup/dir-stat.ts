/**
 * lstat of a directory's entries through the project's addon `native/readfiles` (lstatAt): fstatat on the
 * directory's descriptor, a chunk of names per call, plain numbers back. The walk (source.ts) made one
 * lstatSync(dir + '/' + name, { bigint: true }) per entry: the kernel resolved the whole path each time, and
 * Node built a Stats object of BigInts; on a 2-vCPU machine the scan thread walking 200,000 cached files
 * spent ~5–6 µs a file in it, and that walk is what an unchanged re-backup waits for. Where the addon was
 * not built (or PLEXICHAT_NATIVE_STAT=0), `dirStatter()` is null and the walk stats path by path as before.
 */
import type { BigIntStats } from 'node:fs';
import { loadAddon } from '../native-addon';
import { systemError } from '../batch-read';

interface LstatAt {
  lstatAt(dir: string, names: string[], out: Float64Array): void;
}

/** Numbers per entry in lstatAt's output (readfiles.c). */
const FIELDS = 16;
/** Names per call: the walk stats ahead of itself by at most this many entries of a directory. */
const CHUNK = 256;

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** The walk's type of an entry from its st_mode: null for anything but a file, directory or symlink. */
function typeOf(mode: number): EntryStat['type'] {
  const fmt = mode & S_IFMT;
  return fmt === S_IFREG ? 'f' : fmt === S_IFDIR ? 'd' : fmt === S_IFLNK ? 'l' : null;
}

/** One entry's lstat, as the walk needs it. */
export interface EntryStat {
  type: 'f' | 'd' | 'l' | null;
  /** All of st_mode (type and permission bits). */
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  ino: number;
  /** dev:ino in decimal, exact whatever their size (hard links are grouped by it); '' unless a file of several links. */
  linkKey: string;
  mtimeNs: bigint;
  ctimeNs: bigint;
  atimeNs: bigint;
}

/** The lstat of a directory's entries, asked in order, fetched CHUNK names at a time. */
export class DirStats {
  private out: Float64Array | null = null;
  private from = 0;
  private to = 0;

  constructor(
    private readonly addon: LstatAt,
    private readonly dir: string,
    private readonly names: string[],
  ) {}

  /** The lstat of names[i] (asked in order: a chunk is fetched for each i outside the last); throws as lstatSync would (code ENOENT, …). */
  stat(i: number, abs: string): EntryStat {
    if (i < this.from || i >= this.to) {
      this.from = i;
      this.to = Math.min(this.names.length, i + CHUNK);
      this.out ??= new Float64Array(Math.min(this.names.length, CHUNK) * FIELDS);
      this.addon.lstatAt(this.dir, this.names.slice(this.from, this.to), this.out);
    }
    const o = this.out!;
    const k = (i - this.from) * FIELDS;
    if (o[k]! < 0) throw systemError(o[k]!, abs, 'lstat');
    const mode = o[k + 1]!;
    const type = typeOf(mode);
    const nlink = o[k + 2]!;
    return {
      type,
      mode,
      nlink,
      uid: o[k + 3]!,
      gid: o[k + 4]!,
      size: o[k + 5]!,
      ino: o[k + 6]! * 2 ** 32 + o[k + 7]!,
      linkKey: type === 'f' && nlink > 1 ? `${join(o[k + 8]!, o[k + 9]!)}:${join(o[k + 6]!, o[k + 7]!)}` : '',
      mtimeNs: ns(o[k + 10]!, o[k + 11]!),
      ctimeNs: ns(o[k + 12]!, o[k + 13]!),
      atimeNs: ns(o[k + 14]!, o[k + 15]!),
    };
  }
}

/** The same for Node's bigint lstat (the walk's roots, and where the addon is missing). */
export function fromBigIntStats(st: BigIntStats): EntryStat {
  const type = typeOf(Number(st.mode));
  return {
    type,
    mode: Number(st.mode),
    nlink: Number(st.nlink),
    uid: Number(st.uid),
    gid: Number(st.gid),
    size: Number(st.size),
    ino: Number(st.ino),
    linkKey: type === 'f' && st.nlink > 1n ? `${st.dev}:${st.ino}` : '',
    mtimeNs: st.mtimeNs,
    ctimeNs: st.ctimeNs,
    atimeNs: st.atimeNs,
  };
}

/** A 64-bit number from its halves, in decimal, exact. */
function join(hi: number, lo: number): string {
  return hi < 2 ** 21 ? String(hi * 2 ** 32 + lo) : ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

function ns(sec: number, nsec: number): bigint {
  return BigInt(sec) * 1_000_000_000n + BigInt(nsec);
}

let addon: LstatAt | null | undefined;

/** A DirStats maker, or null where native/readfiles (with lstatAt) was not built or PLEXICHAT_NATIVE_STAT=0. */
export function dirStatter(): ((dir: string, names: string[]) => DirStats) | null {
  if (addon === undefined) {
    const a = process.env.PLEXICHAT_NATIVE_STAT === '0' ? null : loadAddon<Partial<LstatAt>>('readfiles');
    addon = a && typeof a.lstatAt === 'function' ? (a as LstatAt) : null;
  }
  const a = addon;
  return a ? (dir, names) => new DirStats(a, dir, names) : null;
}
