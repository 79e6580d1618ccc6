/**
 * Entropy samples of file contents, taken from the blocks the backup reads anyway (no second pass): a
 * histogram of the first WINDOW bytes and of WINDOW bytes around the middle. Encrypted or random data scores
 * close to 8 bits/byte in both windows; text scores 4–5. The lower of the two is kept, so a text file with a
 * random-looking header (or the reverse) is not taken for encrypted.
 */
import { assemble, lazyLoop, leb, loopEngine, op } from './wasm-assembly';

export const ENTROPY_WINDOW = 64 * 1024;
/** Below this a sample says too little (a 32-byte random file scores about 5). */
export const MIN_SAMPLE = 256;

/**
 * Shannon entropy in bits/byte of a byte histogram, with the Miller–Madow correction: the plain estimate
 * of a small sample is biased low ((K−1)/2n·ln 2 bits, K = symbols seen), which would let a 1 KiB random
 * file score 7.8 and a 512-byte one 7.6. Capped at 8.
 */
export function entropyOf(hist: Uint32Array, n: number): number {
  if (n === 0) return 0;
  let h = 0;
  let k = 0;
  for (let i = 0; i < 256; i++) {
    const c = hist[i]!;
    if (c === 0) continue;
    k++;
    const p = c / n;
    h -= p * Math.log2(p);
  }
  return Math.min(8, h + (k - 1) / (2 * n * Math.LN2));
}

export function entropyOfBytes(data: Uint8Array): number {
  const hist = new Uint32Array(256);
  return entropyOf(hist, count(hist, data, 0, data.length));
}

/** Fed the blocks of one file in order; `result()` gives the sample in hundredths of a bit per byte. */
export class EntropySampler {
  private readonly first = new Uint32Array(256);
  private readonly middle = new Uint32Array(256);
  private firstN = 0;
  private middleN = 0;
  private offset = 0;
  private midStart = Infinity;

  /** `size`: the file's expected size (from its stat); a file that grew while read is sampled as planned. */
  constructor(size: number) {
    this.reset(size);
  }

  /**
   * Starts the sample of another file (a backup reuses one sampler: two typed arrays per file were ~150 ms
   * of a backup of 48k files, and garbage).
   */
  reset(size: number): this {
    if (this.offset) {
      this.first.fill(0);
      this.middle.fill(0);
    }
    this.firstN = this.middleN = this.offset = 0;
    // A file up to two windows long is one sample; a longer one gets a second window centred on its middle.
    this.midStart = size > 2 * ENTROPY_WINDOW ? Math.floor(size / 2) - ENTROPY_WINDOW / 2 : Infinity;
    return this;
  }

  feed(block: Uint8Array): void {
    const start = this.offset;
    const end = start + block.length;
    this.offset = end;
    const firstEnd = this.midStart === Infinity ? 2 * ENTROPY_WINDOW : ENTROPY_WINDOW;
    if (start < firstEnd) this.firstN += count(this.first, block, 0, Math.min(end, firstEnd) - start);
    const midEnd = this.midStart + ENTROPY_WINDOW;
    if (end > this.midStart && start < midEnd) {
      this.middleN += count(this.middle, block, Math.max(0, this.midStart - start), Math.min(end, midEnd) - start);
    }
  }

  /** Null when the file is too small to judge. */
  result(): number | null {
    if (this.firstN < MIN_SAMPLE) return null;
    let h = entropyOf(this.first, this.firstN);
    if (this.middleN >= MIN_SAMPLE) h = Math.min(h, entropyOf(this.middle, this.middleN));
    return Math.round(h * 100);
  }
}

/**
 * Counts bytes into the histogram: in WebAssembly for ranges of MIN_WASM bytes or more (1.8 GB/s against
 * 0.85 for the JavaScript loop on 64 KiB ranges, 1.4 against 0.85 on 4 KiB), in JavaScript below that, where
 * copying the range and adding up four histograms cost more than they save, and where WebAssembly is missing.
 */
export function count(hist: Uint32Array, block: Uint8Array, from: number, to: number): number {
  if (to - from >= MIN_WASM) {
    const w = wasm();
    if (w) return countWasm(w, hist, block, from, to);
  }
  return countJs(hist, block, from, to);
}

/**
 * Four bytes a round, loaded before any count is stored: V8's per-byte loop ran at ~500 MiB/s, this one at
 * 800–950 (random, text or zeros alike), and it runs on every byte of a small file on the main thread.
 */
export function countJs(hist: Uint32Array, block: Uint8Array, from: number, to: number): number {
  let i = from;
  for (const end4 = from + ((to - from) & ~3); i < end4; i += 4) {
    const b0 = block[i]!;
    const b1 = block[i + 1]!;
    const b2 = block[i + 2]!;
    const b3 = block[i + 3]!;
    hist[b0]!++;
    hist[b1]!++;
    hist[b2]!++;
    hist[b3]!++;
  }
  for (; i < to; i++) hist[block[i]!]!++;
  return to - from;
}

const MIN_WASM = 2048;

/** Which loop count() runs on ranges of MIN_WASM bytes or more. */
export const countEngine = () => loopEngine(wasm);

/** Bytes copied into the WebAssembly memory at a time. */
const WINDOW = 64 * 1024;
/** Four histograms of 256 × u32, one per byte of a 4-byte round (no store waits on the one before), then the window. */
const DATA = 4096;

interface HistogramWasm {
  run: (from: number, to: number) => number;
  bytes: Uint8Array;
  counts: Uint32Array;
}

const wasm = lazyLoop(instantiate);

function countWasm(w: HistogramWasm, hist: Uint32Array, block: Uint8Array, from: number, to: number): number {
  const c = w.counts;
  for (let at = from; at < to; at += WINDOW) {
    const n = Math.min(WINDOW, to - at) & ~3;
    w.bytes.set(block.subarray(at, at + n), DATA);
    w.run(0, n);
    for (let i = at + n; i < Math.min(to, at + WINDOW); i++) hist[block[i]!]!++;
  }
  for (let b = 0; b < 256; b++) hist[b]! += c[b]! + c[b + 256]! + c[b + 512]! + c[b + 768]!;
  c.fill(0);
  return to - from;
}

/**
 * run(i, end), i and end multiples of 4 (window offsets): while (i < end) { for k in 0..3:
 * counts[k][window[i + k]]++; i += 4 }. Counts are little-endian u32, read here through a Uint32Array: the
 * module is used only where the host is little-endian too.
 */
function instantiate(): HistogramWasm | null {
  if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) return null;
  const I = 0, END = 1, AT = 2; // parameters, then a local
  const { get, tee, i32const, ltU, add, shl, load, load8u, store, ifVoid, loopVoid, brIf, end } = op;
  // counts[k][window[i + k]] += 1
  const lane = (k: number) => [get, I, load8u, 0, ...leb(DATA + k), i32const, 2, shl, tee, AT, get, AT, load, 2, ...leb(k * 1024), i32const, 1, add, store, 2, ...leb(k * 1024)];
  const body = [
    ...[get, I, get, END, ltU, ...ifVoid],
    ...loopVoid,
    ...lane(0),
    ...lane(1),
    ...lane(2),
    ...lane(3),
    ...[get, I, i32const, 4, add, tee, I, get, END, ltU, brIf, 0],
    end, // loop
    end, // if
    end,
  ];
  const m = assemble({ params: 2, locals: 1, result: false, pages: Math.ceil((DATA + WINDOW) / 65536), body });
  if (!m) return null;
  return { run: m.run, bytes: new Uint8Array(m.memory.buffer), counts: new Uint32Array(m.memory.buffer, 0, 1024) };
}
