import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { compress, compressAdaptive, decompress, looksLikeTextData } from '../../server/engine/repository/compression';
import { chatJson, Rng } from '../support/tree';

const MiB = 1024 * 1024;

describe('adaptive compression', () => {
  it('compresses binary shards with zstd at the configured level', () => {
    // A real executable: the kind of data that used to get lz4 or zstd-1.
    const binary = readFileSync(process.execPath).subarray(0, MiB);
    const { algo, out } = compressAdaptive(binary, 'auto', 3);
    expect(algo).toBe('zstd');
    expect(out.equals(compress(binary, 'zstd', 3))).toBe(true);
    expect(out.length).toBeLessThan(compress(binary, 'zstd', 1).length);
    expect(decompress(out, 'zstd').equals(binary)).toBe(true);
  });

  it('compresses a shard of text between compressed files, wherever its samples fall', () => {
    // Random bytes at the start, middle and end of the shard (where a sample would look), text between.
    const rng = new Rng(7);
    const text = chatJson(rng, 6000).subarray(0, 300 * 1024);
    const shard = Buffer.concat([rng.bytes(64 * 1024), text, rng.bytes(96 * 1024), text, rng.bytes(64 * 1024)]);
    const { algo, out } = compressAdaptive(shard, 'auto', 3);
    expect(algo).toBe('zstd');
    expect(out.length).toBeLessThan(shard.length * 0.7);
    expect(decompress(out, 'zstd').equals(shard)).toBe(true);
  });

  it('text at the default levels gets zstd tuned for text: smaller than the level alone, an ordinary zstd frame; not at other levels, nor for binaries or under a rule', () => {
    const json = chatJson(new Rng(11), 20_000).subarray(0, MiB);
    // Here: level 2 alone 220,154 bytes, level 3 alone 203,211, tuned 201,289.
    for (const [level, gain] of [
      [2, 0.95],
      [3, 1],
    ]) {
      const { algo, out } = compressAdaptive(json, 'auto', level!);
      expect(algo).toBe('zstd');
      expect(out.length).toBeLessThan(compress(json, 'zstd', level!).length * gain!);
      expect(decompress(out, 'zstd').equals(json)).toBe(true);
    }
    for (const level of [1, 4]) expect(compressAdaptive(json, 'auto', level).out.equals(compress(json, 'zstd', level))).toBe(true);
    const binary = readFileSync(process.execPath).subarray(0, MiB);
    expect(compressAdaptive(binary, 'auto', 2).out.equals(compress(binary, 'zstd', 2))).toBe(true);
    const ruled = compressAdaptive(json, 'auto', 2, { text_data: { algorithm: 'zstd', level: 2 } });
    expect(ruled.out.equals(compress(json, 'zstd', 2))).toBe(true);
  });

  it('stores incompressible and tiny shards as they are', () => {
    const noise = new Rng(8).bytes(MiB);
    const raw = compressAdaptive(noise, 'auto', 3);
    expect(raw.algo).toBe('none');
    expect(raw.out).toBe(noise);
    const tiny = Buffer.from('a'.repeat(511));
    expect(compressAdaptive(tiny, 'auto', 3).algo).toBe('none');
  });

  it('still reads what earlier choices wrote: lz4, and zstd at any level', () => {
    const data = Buffer.concat([readFileSync(process.execPath).subarray(0, 200_000), chatJson(new Rng(9), 1000)]);
    expect(decompress(compress(data, 'lz4', 3), 'lz4').equals(data)).toBe(true);
    for (const level of [1, 3, 19]) expect(decompress(compress(data, 'zstd', level), 'zstd').equals(data)).toBe(true);
  });
});

describe('the text probe', () => {
  /** The probe's rule, written plainly: at least 90 % of the sampled bytes are text. */
  const reference = (data: Buffer) => {
    const K = 16 * 1024;
    const sample = data.length <= 3 * K ? data : Buffer.concat([data.subarray(0, K), data.subarray(Math.floor(data.length / 2 - K / 2), Math.floor(data.length / 2 - K / 2) + K), data.subarray(data.length - K)]);
    let texty = 0;
    for (const b of sample) if ((b >= 32 && b < 127) || b === 9 || b === 10 || b === 13 || b >= 0xc2) texty++;
    return texty >= sample.length * 0.9;
  };
  /** `n` bytes of text with `bad` bytes of 0x01 spread through each sampled part. */
  const mixed = (n: number, badShare: number) => {
    const b = Buffer.alloc(n, 'a');
    const step = Math.round(1 / badShare);
    for (let i = 0; i < n; i += step) b[i] = 1;
    return b;
  };

  it('says what the plain rule says, at the 90 % line and away from it', () => {
    const rng = new Rng(23);
    const cases = [rng.bytes(MiB), rng.bytes(1000), Buffer.from('{"t":"héllo wörld"}\n'.repeat(60000)), mixed(MiB, 0.1), mixed(MiB, 0.0999), mixed(MiB, 0.1001), mixed(40_000, 0.1), mixed(40_000, 0.11), Buffer.alloc(0)];
    // Text in two sampled parts and binary in the third: decided by the whole sample, not the first part.
    cases.push(Buffer.concat([Buffer.alloc(MiB / 2, 'x'), rng.bytes(MiB / 2)]));
    for (let k = 0; k < 20; k++) cases.push(mixed(rng.int(1, 2 * MiB), rng.int(5, 20) / 100));
    for (const c of cases) expect(looksLikeTextData(c), `${c.length} bytes`).toBe(reference(c));
    expect(looksLikeTextData(mixed(MiB, 0.05))).toBe(true);
    expect(looksLikeTextData(rng.bytes(MiB))).toBe(false);
  });
});
