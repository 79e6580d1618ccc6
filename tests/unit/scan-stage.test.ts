/**
 * The data stream's cuts, large files' SHA-256 and chunks' content ids are found on the codec pool's scan
 * thread. Its cuts must be the main-thread chunker's exactly (stored shards dedup only against the same cuts),
 * however the stream is split into writes and blocks; each file's hash must be the hash of its bytes, and each
 * chunk's id the keyed hash of that chunk (an id naming other bytes would dedup one chunk onto another).
 */
import { createHash, createHmac } from 'node:crypto';
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
  const ids: { cid: string; length: number }[] = [];
  let tail: { cid: string; length: number } | null = null;
  const stage = new ScanStage(
    pool,
    opts,
    async (b) => {
      chunker.pushCut(b.data, b.cuts, (c) => chunks.push(Buffer.from(c)));
      b.cids.forEach((cid, i) => ids.push({ cid, length: b.lengths[i]! }));
      tail = b.tail;
    },
    KEY,
  );
  const flush = () => {
    const before = chunks.length;
    chunker.flush((c) => chunks.push(Buffer.from(c)));
    expect(chunks.length - before).toBe(tail ? 1 : 0);
    if (tail) ids.push(tail);
    tail = null;
  };
  const digests: Promise<string>[] = [];
  for (const [k, f] of files.entries()) {
    for (let i = 0; i < f.length; i += piece) await stage.write(f.subarray(i, i + piece), true);
    digests.push((await stage.endFile()).digest);
    if (k === cutAfter) {
      await stage.end();
      flush();
    }
  }
  await stage.end();
  flush();
  stage.close();
  return { chunks, ids, digests: await Promise.all(digests) };
}

const KEY = Buffer.alloc(32, 9);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const cidOf = (b: Buffer) => createHmac('sha256', KEY).update(b).digest('hex');
/** Each chunk's id is the keyed hash of that chunk, and its length the chunk's. */
const expectIds = (r: Awaited<ReturnType<typeof threaded>>) => expect(r.ids).toEqual(r.chunks.map((c) => ({ cid: cidOf(c), length: c.length })));

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
    expectIds(r);
  });

  it('starts a chunk after end() on both sides (the stream is cut before a reused file)', async () => {
    const opts = { mode: 'cdc' as const, avgSize: MiB };
    const r = await threaded(files, MiB, opts, 0);
    const head = Buffer.concat(files.slice(0, 1));
    const tail = Buffer.concat(files.slice(1));
    expect(lengths(r.chunks)).toEqual([...lengths(inline(head, opts)), ...lengths(inline(tail, opts))]);
    expect(r.digests).toEqual(files.map(sha));
    expectIds(r);
  });

  it('gives no tail id when the stream ends on a cut, and one per end() otherwise', async () => {
    const opts = { mode: 'fixed' as const, avgSize: 256 * 1024 };
    const exact = await threaded([rng.bytes(2 * 256 * 1024)], 100_000, opts);
    expect(lengths(exact.chunks)).toEqual([256 * 1024, 256 * 1024]);
    expectIds(exact);
    const ragged = await threaded([rng.bytes(300_000), rng.bytes(10)], 4096, opts, 0);
    expect(lengths(ragged.chunks)).toEqual([256 * 1024, 300_000 - 256 * 1024, 10]);
    expectIds(ragged);
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
