/**
 * The data stream's cuts and large files' SHA-256 are found on the codec pool's scan thread. Its cuts must be
 * the main-thread chunker's exactly (stored shards dedup only against the same cuts), however the stream is
 * split into writes and blocks, and each file's hash must be the hash of its bytes.
 */
import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Chunker } from '../../server/engine/backup/chunker';
import { ScanStage } from '../../server/engine/backup/scan-stage';
import { CodecPool } from '../../server/engine/repository/codec-pool';
import { Rng } from '../support/tree';

const MiB = 1024 * 1024;
const pool = new CodecPool(1);
afterAll(() => pool.close());

const lengths = (chunks: Buffer[]) => chunks.map((c) => c.length);

function inline(data: Buffer, opts: ConstructorParameters<typeof Chunker>[0]): Buffer[] {
  const c = new Chunker(opts);
  const out: Buffer[] = [];
  c.push(data, (b) => out.push(Buffer.from(b)));
  c.flush((b) => out.push(Buffer.from(b)));
  return out;
}

/** Writes `files` (each in pieces of `piece` bytes) through a ScanStage; returns the chunks and the digests. */
async function threaded(files: Buffer[], piece: number, opts: ConstructorParameters<typeof Chunker>[0], cutAfter = -1) {
  const chunker = new Chunker(opts);
  const chunks: Buffer[] = [];
  const stage = new ScanStage(pool, opts, async (data, cuts) => {
    chunker.pushCut(data, cuts, (b) => chunks.push(Buffer.from(b)));
  });
  const digests: Promise<string>[] = [];
  for (const [k, f] of files.entries()) {
    for (let i = 0; i < f.length; i += piece) await stage.write(f.subarray(i, i + piece), true);
    digests.push((await stage.endFile()).digest);
    if (k === cutAfter) {
      await stage.end();
      chunker.flush((b) => chunks.push(Buffer.from(b)));
    }
  }
  await stage.end();
  chunker.flush((b) => chunks.push(Buffer.from(b)));
  stage.close();
  return { chunks, digests: await Promise.all(digests) };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('scan thread', () => {
  const rng = new Rng(3);
  const files = [rng.bytes(3 * MiB + 17), Buffer.alloc(0), rng.bytes(700_000), Buffer.alloc(5 * MiB, 7), rng.bytes(2 * MiB - 1)];
  const all = Buffer.concat(files);

  it.each([
    ['cdc 1 MiB, written in 64 KiB pieces', { mode: 'cdc' as const, avgSize: MiB }, 65536],
    ['cdc 256 KiB, written in 3 MiB + 1 pieces', { mode: 'cdc' as const, avgSize: 256 * 1024 }, 3 * MiB + 1],
    ['fixed 1 MiB, written in 1000-byte pieces', { mode: 'fixed' as const, avgSize: MiB }, 1000],
  ])('cuts where the main-thread chunker cuts and hashes each file (%s)', async (_name, opts, piece) => {
    const r = await threaded(files, piece, opts);
    expect(lengths(r.chunks)).toEqual(lengths(inline(all, opts)));
    expect(Buffer.concat(r.chunks).equals(all)).toBe(true);
    expect(r.digests).toEqual(files.map(sha));
  });

  it('starts a chunk after end() on both sides (the stream is cut before a reused file)', async () => {
    const opts = { mode: 'cdc' as const, avgSize: MiB };
    const r = await threaded(files, MiB, opts, 0);
    const head = Buffer.concat(files.slice(0, 1));
    const tail = Buffer.concat(files.slice(1));
    expect(lengths(r.chunks)).toEqual([...lengths(inline(head, opts)), ...lengths(inline(tail, opts))]);
    expect(r.digests).toEqual(files.map(sha));
  });

  it('fails loudly, digests included, when the scan thread is gone', async () => {
    const closed = new CodecPool(1);
    const stage = new ScanStage(closed, { mode: 'cdc', avgSize: MiB }, async () => undefined);
    await stage.write(Buffer.alloc(1000, 1), true);
    await closed.close();
    const { digest } = await stage.endFile();
    await expect(stage.end()).rejects.toThrow(/closed/);
    await expect(digest).rejects.toThrow(/closed/);
  });
});
