/**
 * Where content-defined chunks end (FastCDC with normalized chunking), found on a stream without keeping its
 * bytes: the state between blocks is the count since the last cut and the rolling hash. The chunker runs it
 * on the main thread; a backup's data stream runs it on a thread of its own (`ScanStage`). Both must cut at
 * exactly the same places: stored shards dedup only against the same cuts (a unit test pins them).
 */

export interface ChunkerOptions {
  mode: 'cdc' | 'fixed';
  /** Average (cdc) or exact (fixed) chunk size in bytes. */
  avgSize: number;
  /** cdc: no chunk is cut smaller than this (default avgSize / 4) or larger than maxSize (default avgSize × 4), but the stream's last one. */
  minSize?: number;
  maxSize?: number;
}

const GEAR = buildGear();

function buildGear(): Int32Array {
  // Deterministic table (xorshift32 from a fixed seed): chunk boundaries must be identical across runs.
  const t = new Int32Array(256);
  let x = 0x9e3779b9;
  for (let i = 0; i < 256; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    t[i] = x | 0;
  }
  return t;
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
      const cut = scan(b, i, end, this.hash, small ? this.maskS : this.maskL);
      if (cut) {
        cuts.push(cut);
        this.pos = 0;
        this.hash = 0;
        i = cut;
        continue;
      }
      this.hash = lastHash;
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

let lastHash = 0;

/**
 * The hot loop, kept small and monomorphic so V8 compiles it tightly (about 4× faster than inlined). Returns
 * the offset after the first byte where the hash matches the mask, or 0 (the hash is then in `lastHash`).
 */
function scan(b: Uint8Array, start: number, end: number, hash: number, mask: number): number {
  const gear = GEAR;
  let h = hash | 0;
  for (let i = start | 0; i < end; i++) {
    h = ((h << 1) + gear[b[i]!]!) | 0;
    if ((h & mask) === 0) return i + 1;
  }
  lastHash = h;
  return 0;
}
