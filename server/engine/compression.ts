/**
 * Adaptive compression, chosen per shard by what the data is and whether it shrinks:
 * - samples that lz4 cannot shrink (media, archives, encrypted data) are stored as they are;
 * - text-like data gets zstd at the configured level;
 * - other binary data gets zstd level 1 when it compresses well, else lz4 (cheap to try, fast to restore);
 * - whatever the choice, a result that saves less than 3% is dropped and the shard is stored uncompressed.
 */
import * as lz4 from 'lz4-napi';
import { gunzipSync, gzipSync } from 'node:zlib';
import * as zstd from 'zstd-napi';

export const COMPRESSIONS = ['none', 'zstd', 'lz4', 'gzip'] as const;
export type Compression = (typeof COMPRESSIONS)[number];
export type CompressionPolicy = 'auto' | Compression;

const SAMPLE = 16 * 1024;

export function compressionCode(c: Compression): number {
  return COMPRESSIONS.indexOf(c);
}

export function compressionFromCode(code: number): Compression {
  const c = COMPRESSIONS[code];
  if (!c) throw new Error(`unknown compression code ${code}`);
  return c;
}

function sampleOf(data: Buffer): Buffer {
  if (data.length <= 3 * SAMPLE) return data;
  const mid = Math.floor(data.length / 2 - SAMPLE / 2);
  return Buffer.concat([data.subarray(0, SAMPLE), data.subarray(mid, mid + SAMPLE), data.subarray(data.length - SAMPLE)]);
}

function looksLikeText(sample: Buffer): boolean {
  let texty = 0;
  for (let i = 0; i < sample.length; i++) {
    const b = sample[i]!;
    if ((b >= 32 && b < 127) || b === 9 || b === 10 || b === 13 || b >= 0xc2) texty++;
  }
  return texty >= sample.length * 0.9;
}

export function chooseCompression(data: Buffer, policy: CompressionPolicy): Compression {
  if (policy !== 'auto') return policy;
  if (data.length < 512) return 'none';
  const sample = sampleOf(data);
  const ratio = lz4.compressSync(sample).length / sample.length;
  if (ratio > 0.95) return 'none';
  if (looksLikeText(sample)) return 'zstd';
  return ratio < 0.6 ? 'zstd' : 'lz4';
}

export function compress(data: Buffer, algo: Compression, level: number): Buffer {
  switch (algo) {
    case 'none':
      return data;
    case 'zstd':
      return zstd.compress(data, { compressionLevel: level });
    case 'lz4':
      return lz4.compressSync(data);
    case 'gzip':
      return gzipSync(data, { level: Math.min(9, level) });
  }
}

export function decompress(data: Buffer, algo: Compression): Buffer {
  switch (algo) {
    case 'none':
      return data;
    case 'zstd':
      return zstd.decompress(data);
    case 'lz4':
      return lz4.uncompressSync(data);
    case 'gzip':
      return gunzipSync(data);
  }
}

/** Compresses with the chosen algorithm; falls back to 'none' when the gain is under 3%. */
export function compressAdaptive(data: Buffer, policy: CompressionPolicy, level: number): { algo: Compression; out: Buffer } {
  const algo = chooseCompression(data, policy);
  if (algo === 'none') return { algo, out: data };
  const level1 = algo === 'zstd' && policy === 'auto' && !looksLikeText(sampleOf(data)) ? 1 : level;
  const out = compress(data, algo, level1);
  if (out.length > data.length * 0.97) return { algo: 'none', out: data };
  return { algo, out };
}
