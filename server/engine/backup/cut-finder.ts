/**
 * Where content-defined chunks end (FastCDC with normalized chunking), found on a stream without keeping its
 * bytes: the state between blocks is the count since the last cut and the rolling hash. The chunker runs it
 * on the main thread; a backup's data stream runs it on a thread of its own (`ScanStage`). Both must cut at
 * exactly the same places: stored shards dedup only against the same cuts (a unit test pins them).
 */

import { gearScan, scannedHash } from './gear-scan';

export interface ChunkerOptions {
  mode: 'cdc' | 'fixed';
  /** Average (cdc) or exact (fixed) chunk size in bytes. */
  avgSize: number;
  /** cdc: no chunk is cut smaller than this (default avgSize / 4) or larger than maxSize (default avgSize × 4), but the stream's last one. */
  minSize?: number;
  maxSize?: number;
}

/** A mask with `bits` ones in the highest bits of a 32-bit word (those depend on the most recent 32 bytes). */
function topMask(bits: number): number {
  return bits >= 32 ? -1 : ~((1 << (32 - bits)) - 1) | 0;
}

export class CutFinder {
  /** The largest chunk: bytes since the last cut never reach it. */
  readonly max: number;
  private readonly min: number;
  private readonly avg: number;
  private readonly maskS: number;
  private readonly maskL: number;
  /** Bytes since the last cut, and the rolling hash over those from `min` on. */
  private pos = 0;
  private hash = 0;

  constructor(opts: ChunkerOptions) {
    const fixed = opts.mode === 'fixed';
    this.avg = opts.avgSize;
    this.min = fixed ? opts.avgSize : Math.min(opts.avgSize, opts.minSize ?? Math.max(64, Math.floor(opts.avgSize / 4)));
    this.max = fixed ? opts.avgSize : Math.max(opts.avgSize, opts.maxSize ?? opts.avgSize * 4);
    const bits = Math.round(Math.log2(opts.avgSize));
    this.maskS = topMask(bits + 2);
    this.maskL = topMask(bits - 2);
  }

  /** Bytes since the last cut. */
  get since(): number {
    return this.pos;
  }

  /**
   * Feeds the next bytes of the stream; appends to `cuts` the offset in `b` after which each chunk ends.
   * Bytes before `min` are skipped unhashed; the stricter mask applies before `avg`, the looser one after.
   */
  find(b: Uint8Array, cuts: number[]): void {
    const n = b.length;
    let i = 0;
    while (i < n) {
      if (this.pos < this.min) {
        const k = Math.min(this.min - this.pos, n - i);
        i += k;
        this.pos += k;
        if (this.pos < this.min) return;
      }
      const small = this.pos < this.avg;
      const end = i + Math.min((small ? this.avg : this.max) - this.pos, n - i);
      const cut = gearScan(b, i, end, this.hash, small ? this.maskS : this.maskL);
      if (cut) {
        cuts.push(cut);
        this.pos = 0;
        this.hash = 0;
        i = cut;
        continue;
      }
      this.hash = scannedHash();
      this.pos += end - i;
      i = end;
      if (this.pos >= this.max) {
        cuts.push(i);
        this.pos = 0;
        this.hash = 0;
      }
    }
  }

  /** The stream was cut (its end, or a cut before a reused file): the next byte starts a chunk. */
  reset(): void {
    this.pos = 0;
    this.hash = 0;
  }
}
