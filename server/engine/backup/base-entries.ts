/**
 * The regular files of a base (or previous) backup by path, as the incremental change rule, a reused file and
 * the change summary read them. Kept as columns of numbers beside a path → slot map, not as parsed manifest
 * entries: those took ~550 bytes a file (the base of a 200,000-file incremental held ~110 MiB of the CLI's
 * heap); a path, its slot, ten numbers and the extents take ~170. Each line is parsed (and validated) once, as
 * it is loaded; get() builds a small object from the columns.
 */
import { type Extent, type ManifestEntry, parseEntry } from '../repository/manifest';

/** What is kept of a base file: every field the change rule, a reused file and the change summary read. */
export type BaseFile = Pick<ManifestEntry, 'p' | 't' | 'm' | 'mt' | 'mtn' | 's' | 'i' | 'ct' | 'ctn' | 'x' | 'en' | 'xa'>;

/** The optional numeric fields, each a column (NaN where the entry had none). */
const OPTIONAL = ['mtn', 's', 'i', 'ct', 'ctn', 'en'] as const;
type Optional = (typeof OPTIONAL)[number];

export class BaseEntries {
  private readonly slots = new Map<string, number>();
  private readonly paths: string[] = [];
  private readonly mode: number[] = [];
  private readonly mtime: number[] = [];
  private readonly optional: Record<Optional, number[]> = { mtn: [], s: [], i: [], ct: [], ctn: [], en: [] };
  /** Slot k's extents: extentCount[k] of them from extents[extentAt[k]], three numbers each (−1: no `x`). */
  private readonly extentAt: number[] = [];
  private readonly extentCount: number[] = [];
  private readonly extents: number[] = [];
  private readonly xattrs = new Map<number, Record<string, string>>();
  private totalBytes = 0;

  /** From parsed entries (tests; a backup's base comes from its manifest lines through add()). */
  static of(entries: Iterable<ManifestEntry>): BaseEntries {
    const b = new BaseEntries();
    for (const e of entries) b.add(JSON.stringify(e));
    return b;
  }

  /** One manifest line, validated by parseEntry; kept when it is a regular file's. */
  add(line: string): void {
    const e = parseEntry(line);
    if (e.t !== 'f') return;
    const prior = this.slots.get(e.p);
    // A path given twice: the later line wins (as with a Map), in a new slot; the earlier slot is left unnamed.
    if (prior !== undefined) {
      this.totalBytes -= this.optional.s[prior]! || 0;
      this.paths[prior] = '';
    }
    const slot = this.paths.length;
    this.slots.set(e.p, slot);
    this.paths.push(e.p);
    this.mode.push(e.m);
    this.mtime.push(e.mt);
    for (const k of OPTIONAL) this.optional[k].push(e[k] ?? NaN);
    this.extentAt.push(e.x ? this.extents.length : -1);
    this.extentCount.push(e.x?.length ?? 0);
    for (const [k, off, len] of e.x ?? []) this.extents.push(k, off, len);
    if (e.xa) this.xattrs.set(slot, e.xa);
    this.totalBytes += e.s ?? 0;
  }

  /** How many files. */
  get size(): number {
    return this.slots.size;
  }

  /** The sum of the files' sizes. */
  get bytes(): number {
    return this.totalBytes;
  }

  has(p: string): boolean {
    return this.slots.has(p);
  }

  /** The slot of file `p` (a number below `slotCount`), or undefined. */
  slotOf(p: string): number | undefined {
    return this.slots.get(p);
  }

  /** One more than the highest slot. */
  get slotCount(): number {
    return this.paths.length;
  }

  /** File `p` as its manifest line gave it (the fields of BaseFile), a new object at each call. */
  get(p: string): BaseFile | undefined {
    const slot = this.slots.get(p);
    if (slot === undefined) return undefined;
    const e: BaseFile = { p, t: 'f', m: this.mode[slot]!, mt: this.mtime[slot]! };
    for (const k of OPTIONAL) {
      const v = this.optional[k][slot]!;
      if (!Number.isNaN(v)) e[k] = v;
    }
    const from = this.extentAt[slot]!;
    if (from >= 0) {
      const to = from + 3 * this.extentCount[slot]!;
      const x: Extent[] = [];
      for (let j = from; j < to; j += 3) x.push([this.extents[j]!, this.extents[j + 1]!, this.extents[j + 2]!]);
      e.x = x;
    }
    const xa = this.xattrs.get(slot);
    if (xa) e.xa = { ...xa };
    return e;
  }

  /** Every file: its path, slot and size, in manifest order. */
  *files(): IterableIterator<{ path: string; slot: number; size: number }> {
    for (const [path, slot] of this.slots) yield { path, slot, size: this.optional.s[slot]! || 0 };
  }
}
