/**
 * Adaptive compression ("auto"), chosen per shard:
 * - every shard of 512 bytes or more gets zstd at the configured level (default 2; restic's "auto" is about 3);
 * - at levels 2 and 3 a shard that looks like text (JSON, logs: the chat data this product backs up) gets
 *   level 3's search with smaller match tables (TEXT_TABLES): on the bench's 1 GiB of chat JSON in 1 MiB
 *   pieces that stored 196.9 MiB where level 2 stored 215.1 and level 3 198.7, and took 3.08 s of CPU against
 *   3.24 and 3.50 (min of 3 runs; session 22's closing note has the sweep). On binaries the same settings cost 16–20 %
 *   more CPU for 0.5–2 % less, so they keep the level as it is;
 * - a result that saves less than 3% is dropped and the shard is stored uncompressed.
 * There is no incompressibility probe first: zstd passes blocks it cannot shrink through at ~1 ms/MiB. The
 * probes tried (lz4 or zstd-1 on 3 × 16 KiB or 16 × 2 KiB of a 1 MiB shard) saved no CPU on /usr/lib or
 * /usr/share and stored 2–3% of /usr/share raw that zstd shrinks: a shard is a cut of the stream of
 * concatenated files, so text between compressed files was judged by samples that fell in the compressed ones.
 * Binary data used to get zstd-1 or lz4: shared libraries came out 27% larger than with zstd-3, for 10% less CPU.
 * The config's `compression_config` may name an algorithm and level for three kinds of data (text, other
 * binary data, and data lz4 cannot shrink: media, archives, encrypted data); only then are samples classified.
 * The algorithm is recorded in every object's header and the level is not needed to decompress, so objects
 * written under any earlier choice read as before.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as zstd from 'zstd-napi';
import * as zstdBinding from 'zstd-napi/binding.js';
import type * as Lz4Napi from 'lz4-napi';
import type { CompressionClass, CompressionConfig } from '../../config-compression';
import { APP_ROOT } from '../../../db/paths';

export const COMPRESSIONS = ['none', 'zstd', 'lz4', 'gzip'] as const;
export type Compression = (typeof COMPRESSIONS)[number];
export type CompressionPolicy = 'auto' | Compression;

const SAMPLE = 16 * 1024;

export function compressionCode(c: Compression): number {
  return COMPRESSIONS.indexOf(c);
}

// A native CommonJS module: under an ES-module loader (the codec worker) its exports sit on `default`.
type Lz4 = typeof Lz4Napi;
let lz4Module: Lz4 | null = null;
/**
 * lz4-napi, loaded when first used: loading it took 20–50 ms in each thread of a command (main and three
 * workers), and only lz4 objects and compression_config rules (kindOf) need it.
 */
// Resolved from the application's root, as reed-solomon.ts finds its wasm: Next's bundler rewrites import.meta.url.
const lz4 = (): Lz4 => (lz4Module ??= createRequire(path.join(APP_ROOT, 'package.json'))('lz4-napi') as Lz4);

const zstdFrames = ((zstdBinding as unknown as { default?: typeof zstdBinding }).default ?? zstdBinding) as typeof zstdBinding;

/** Any stored object's plaintext is at most this (the largest shard is 4 × 20 MiB); more is not ours. */
export const MAX_PLAIN = 128 * 1024 * 1024;

/** Stored bytes that cannot be decompressed: a damaged or forged object, never a crash of the reader. */
export class DecompressionError extends Error {
  override readonly name = 'DecompressionError';
}

export function compressionFromCode(code: number): Compression | null {
  return COMPRESSIONS[code] ?? null;
}

/** Where a shard is sampled: all of it, or SAMPLE bytes at its start, middle and end (views, not copies). */
function sampleParts(data: Buffer): Buffer[] {
  if (data.length <= 3 * SAMPLE) return [data];
  const mid = Math.floor(data.length / 2 - SAMPLE / 2);
  return [data.subarray(0, SAMPLE), data.subarray(mid, mid + SAMPLE), data.subarray(data.length - SAMPLE)];
}

/** 1 for the bytes that are not text: controls other than tab, LF and CR, DEL, and 0x80–0xC1 (never UTF-8 lead bytes). */
const NOT_TEXT = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = (b >= 32 && b < 127) || b === 9 || b === 10 || b === 13 || b >= 0xc2 ? 0 : 1;
  return t;
})();

/**
 * Whether at least 90 % of the sampled bytes (sampleParts) are text. Counted through a table, not a chain of comparisons
 * (random bytes made those branches unpredictable: ~120 MB/s), and given up as soon as the answer can only be
 * no: random data is decided within its first quarter.
 */
export function looksLikeTextData(data: Buffer): boolean {
  return looksLikeText(sampleParts(data));
}

function looksLikeText(parts: Buffer[]): boolean {
  let len = 0;
  for (const p of parts) len += p.length;
  const need = len * 0.9;
  let non = 0;
  for (const p of parts) {
    for (let at = 0; at < p.length; at += 4096) {
      const end = Math.min(p.length, at + 4096);
      for (let i = at; i < end; i++) non += NOT_TEXT[p[i]!]!;
      if (len - non < need) return false;
    }
  }
  return len - non >= need;
}

export function chooseCompression(data: Buffer, policy: CompressionPolicy): Compression {
  if (policy !== 'auto') return policy;
  return data.length < MIN_COMPRESS ? 'none' : 'zstd';
}

/** Shards smaller than this are stored as they are: the frame overhead eats what little they would save. */
const MIN_COMPRESS = 512;

/** The kind of data a shard holds, told from samples: what a compression_config rule is chosen by. */
function kindOf(data: Buffer): CompressionClass {
  const parts = sampleParts(data);
  const sample = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  const ratio = lz4().compressSync(sample).length / sample.length;
  if (ratio > 0.95) return 'media_files';
  return looksLikeText(parts) ? 'text_data' : 'binary_data';
}

/** Gives memory of at least `length` bytes to compress into; the result is a view of it, valid until the next call. */
export type Scratch = (length: number) => Buffer;

let cctx: InstanceType<typeof zstdFrames.CCtx> | null = null;
let textCctx: InstanceType<typeof zstdFrames.CCtx> | null = null;

/** Level 3's search (dfast, matches from 5 bytes) with 32 K hash and 8 K chain entries: they stay in cache. */
const TEXT_TABLES = { hashLog: 15, chainLog: 13 };

function tunedForText(): InstanceType<typeof zstdFrames.CCtx> {
  const c = new zstdFrames.CCtx();
  c.setParameter(zstdFrames.CParameter.compressionLevel, 3);
  c.setParameter(zstdFrames.CParameter.hashLog, TEXT_TABLES.hashLog);
  c.setParameter(zstdFrames.CParameter.chainLog, TEXT_TABLES.chainLog);
  return c;
}

/** zstd tuned for text (TEXT_TABLES): an ordinary zstd frame, with its content size, as `compress` writes. */
function compressText(data: Buffer, scratch?: Scratch): Buffer {
  const dst = scratch ? scratch(zstdFrames.compressBound(data.length)) : Buffer.allocUnsafe(zstdFrames.compressBound(data.length));
  textCctx ??= tunedForText();
  const out = dst.subarray(0, textCctx.compress2(dst, data));
  return scratch ? out : Buffer.from(out); // not a view of a worst-case-sized buffer
}

/**
 * With `scratch`, zstd writes into memory the caller reuses: zstd-napi's own compress allocates a buffer of the
 * worst-case size per call, and a second one for the result when it is much smaller (a codec thread collects
 * rarely, so those piled up until V8's external-memory limit: tens of MiB per thread during a backup).
 */
export function compress(data: Buffer, algo: Compression, level: number, scratch?: Scratch): Buffer {
  switch (algo) {
    case 'none':
      return data;
    case 'zstd': {
      if (!scratch) return zstd.compress(data, { compressionLevel: level });
      const dst = scratch(zstdFrames.compressBound(data.length));
      cctx ??= new zstdFrames.CCtx();
      return dst.subarray(0, cctx.compress(dst, data, level));
    }
    case 'lz4':
      return lz4().compressSync(data);
    case 'gzip':
      return gzipSync(data, { level: Math.min(9, level) });
  }
}

/**
 * Decompresses stored bytes, which may be hostile: the size a frame declares is checked against MAX_PLAIN
 * before anything is allocated, and every library error becomes a DecompressionError.
 */
export function decompress(data: Buffer, algo: Compression, alloc?: (length: number) => Buffer): Buffer {
  try {
    switch (algo) {
      case 'none':
        return data;
      case 'zstd':
        return zstdDecompress(data, alloc);
      case 'lz4': {
        // lz4-napi prepends the plaintext size (u32 LE) and allocates it up front.
        // lz4 never expands more than 255:1, so a larger claim is a lie told to make us allocate.
        if (data.length < 4 || data.readUInt32LE(0) > Math.min(MAX_PLAIN, data.length * 255 + 64)) throw new DecompressionError('lz4 block declares an impossible size');
        return lz4().uncompressSync(data);
      }
      case 'gzip':
        return gunzipSync(data, { maxOutputLength: MAX_PLAIN });
    }
  } catch (err) {
    if (err instanceof DecompressionError) throw err;
    throw new DecompressionError(`${algo} data is damaged (${(err as Error).message})`);
  }
}

/**
 * One zstd frame with its content size declared (what `compress` writes). zstd-napi's own decompress would
 * allocate whatever a frame declares, and loops for ever on some damaged frames without a declared size.
 */
function zstdDecompress(data: Buffer, alloc: (length: number) => Buffer = (n) => Buffer.allocUnsafe(n)): Buffer {
  const size = zstdFrames.getFrameContentSize(data);
  // A block of at least 4 bytes yields at most 128 KiB, so a frame cannot honestly claim more than this.
  if (size === null || size > Math.min(MAX_PLAIN, data.length * 32768)) throw new DecompressionError('zstd frame without a plausible content size');
  if (zstdFrames.findFrameCompressedSize(data) !== data.length) throw new DecompressionError('zstd data is not exactly one frame');
  const out = alloc(size);
  const n = zstdFrames.decompress(out, data);
  if (n !== size) throw new DecompressionError('zstd frame is shorter than it declares');
  return out;
}

/** Compresses with the chosen algorithm; falls back to 'none' when the gain is under 3%. */
export function compressAdaptive(data: Buffer, policy: CompressionPolicy, level: number, byClass?: CompressionConfig, scratch?: Scratch): { algo: Compression; out: Buffer } {
  let algo = chooseCompression(data, policy);
  let chosenLevel = level;
  let ruled = false;
  if (policy === 'auto' && algo !== 'none' && byClass && Object.keys(byClass).length > 0) {
    const rule = byClass[kindOf(data)];
    if (rule) {
      algo = rule.algorithm;
      chosenLevel = rule.level ?? level;
      ruled = true;
    }
  }
  if (algo === 'none') return { algo, out: data };
  // Text at the default levels: zstd tuned for it (the header says zstd; the frame decodes as any other).
  const text = algo === 'zstd' && policy === 'auto' && !ruled && (level === 2 || level === 3) && looksLikeText(sampleParts(data));
  const out = text ? compressText(data, scratch) : compress(data, algo, chosenLevel, scratch);
  if (out.length > data.length * 0.97) return { algo: 'none', out: data };
  return { algo, out };
}
