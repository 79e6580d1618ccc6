/**
 * The codec pool moves buffers between threads. Small Buffers live in Node's shared pool: transferring one
 * would detach its neighbours, and from Node 21 on postMessage refuses it. Every size must round-trip, and a
 * neighbour sharing the pool with the input must survive the call.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { chunkBuffers } from '../../server/engine/repository/chunk-buffers';
import { CodecPool } from '../../server/engine/repository/codec-pool';

const pool = new CodecPool(2);
afterAll(() => pool.close());

const key = randomBytes(32);
const opts = { label: 'shard:test', keyId: 'k1', key, cipher: 'aes-256-gcm' as const, compression: 'auto' as const, level: 3 };

describe('codec pool threads', () => {
  it('keeps a process alive while a job is in flight, and not once its pool is idle (never closed here)', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pool-exit-'));
    try {
      // Nothing else holds the event loop: an unreferenced thread would let the process end before the answer,
      // a referenced idle one would keep it running for ever.
      const file = path.join(dir, 'job.mts');
      writeFileSync(file, `import { CodecPool } from ${JSON.stringify(path.resolve('server/engine/repository/codec-pool.ts'))};
        const pool = new CodecPool(2);
        const enc = await pool.encode(Buffer.from('hello'), { label: 'l', keyId: 'k', key: null, cipher: 'none', compression: 'none', level: 3 });
        console.log(enc.stored.length > 0);`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 30_000 });
      expect(r.stderr).toBe('');
      expect(r.stdout.trim()).toBe('true');
      expect(r.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('starts no thread before its first job (an engine opened to list backups codes nothing), then its size', async () => {
    const lazy = new CodecPool(2);
    try {
      expect(lazy.started).toBe(0);
      const plain = randomBytes(1000);
      const enc = await lazy.encode(Buffer.from(plain), opts);
      expect(lazy.started).toBe(2);
      expect((await lazy.decode(enc.stored, 'shard:test', { k1: key }, enc.checksum)).equals(plain)).toBe(true);
    } finally {
      await lazy.close();
    }
  });

  it('refuses work once closed, even if it never started', async () => {
    const idle = new CodecPool(2);
    await idle.close();
    await expect(idle.checksum(Buffer.alloc(10))).rejects.toThrow(/the codec pool is closed/);
    expect(idle.started).toBe(0);
  });
});

describe('codec pool buffer ownership', () => {
  it.each([0, 1, 100, 4000, 70_000, 1 << 20])('round-trips %i bytes, pooled or not, and leaves the shared pool intact', async (size) => {
    const neighbour = Buffer.from('a neighbour in the same pool'); // small: allocated from Node's pool
    const plain = size < 4096 ? Buffer.from(randomBytes(size)) : randomBytes(size);
    const copy = Buffer.from(plain);
    const enc = await pool.encode(plain, opts);
    expect(neighbour.toString()).toBe('a neighbour in the same pool');
    const storedCopy = Buffer.from(enc.stored);
    expect(await pool.checksum(Buffer.from(storedCopy))).toBe(enc.checksum);
    const { cid, data } = await pool.contentId(Buffer.from(copy), key);
    expect(cid).toMatch(/^[0-9a-f]{64}$/);
    expect(data.equals(copy)).toBe(true);
    const back = await pool.decode(storedCopy, 'shard:test', { k1: key }, enc.checksum);
    expect(back.equals(copy)).toBe(true);
    expect(neighbour.toString()).toBe('a neighbour in the same pool');
  });

  it('decodes highly compressible data whose plain text is larger than the stored object', async () => {
    const plain = Buffer.alloc(300_000, 'x');
    const enc = await pool.encode(Buffer.from(plain), opts);
    expect(enc.stored.length).toBeLessThan(plain.length);
    const back = await pool.decode(Buffer.from(enc.stored), 'shard:test', { k1: key }, enc.checksum);
    expect(back.equals(plain)).toBe(true);
  });

  it('moves a chunk buffer to the threads and back without a copy, and takes it back into the free list once encoded', async () => {
    const chunk = chunkBuffers.take(500_000); // a 512 KiB buffer of its own, viewed as 500,000 bytes
    randomBytes(500_000).copy(chunk);
    const copy = Buffer.from(chunk);
    const { data } = await pool.contentId(chunk, key);
    expect(chunk.byteLength).toBe(0); // transferred, not copied
    expect(data.equals(copy)).toBe(true);
    expect(data.buffer.byteLength).toBe(512 * 1024);
    const held = chunkBuffers.freeBytesHeld;
    const enc = await pool.encode(data, opts);
    expect(chunkBuffers.freeBytesHeld).toBe(held + 512 * 1024);
    expect(await pool.decode(Buffer.from(enc.stored), 'shard:test', { k1: key }, enc.checksum)).toEqual(copy);
    const again = chunkBuffers.take(400_000); // reuses the freed memory (448 KiB class, then 512 KiB)
    expect(chunkBuffers.freeBytesHeld).toBe(held);
    expect(again.length).toBe(400_000);
  });

  it('never recycles a buffer it did not lend', () => {
    const held = chunkBuffers.freeBytesHeld;
    chunkBuffers.give(new ArrayBuffer(1 << 20));
    chunkBuffers.give(randomBytes(1 << 20).buffer);
    expect(chunkBuffers.freeBytesHeld).toBe(held);
  });

  it('takes back a decoded buffer it lent, once, and decodes the next shard into it', async () => {
    const plain = Buffer.from(randomBytes(250_000).toString('hex')); // compresses: decompressed into a spare
    const enc = await pool.encode(Buffer.from(plain), opts);
    const back = await pool.decode(Buffer.from(enc.stored), 'shard:test', { k1: key }, enc.checksum);
    expect(back.equals(plain)).toBe(true);
    expect(back.buffer.byteLength).toBe(512 * 1024); // a recyclable size, viewed as the plaintext
    const before = pool.spareBytes;
    pool.giveBack(back);
    pool.giveBack(back);
    expect(pool.spareBytes).toBe(before + 512 * 1024);
    const next = Buffer.from(randomBytes(100_000).toString('hex'));
    const enc2 = await pool.encode(Buffer.from(next), opts);
    const back2 = await pool.decode(Buffer.from(enc2.stored), 'shard:test', { k1: key }, enc2.checksum);
    expect(back.byteLength).toBe(0); // sent to a thread: no stale view can read what it decodes next
    expect(pool.spareBytes).toBe(before);
    expect(back2.equals(next)).toBe(true);
  });

  it('builds the next stored objects in one given back, never in one still held', async () => {
    const plains = () => randomBytes(500_000); // incompressible: stored in a 512 KiB buffer
    const given = await pool.encode(Buffer.from(plains()), opts);
    const held = await pool.encode(Buffer.from(plains()), opts);
    const heldCopy = Buffer.from(held.stored);
    const before = pool.spareBytes;
    pool.giveBack(given.stored);
    pool.giveBack(given.stored);
    expect(pool.spareBytes).toBe(before + 512 * 1024);
    for (let i = 0; i < 8; i++) {
      const plain = plains();
      const enc = await pool.encode(Buffer.from(plain), opts);
      expect((await pool.decode(Buffer.from(enc.stored), 'shard:test', { k1: key }, enc.checksum)).equals(plain)).toBe(true);
      pool.giveBack(enc.stored); // as a backup does once the object is stored
    }
    expect(given.stored.byteLength).toBe(0); // sent to a thread: no stale view reads what it encodes next
    expect(held.stored.equals(heldCopy)).toBe(true);
  });

  it('lets the stored copies it decodes die on its threads: 256 MiB decoded, the memory stays bounded', async () => {
    const plain = randomBytes(1 << 20);
    const enc = await pool.encode(Buffer.from(plain), opts);
    const before = process.memoryUsage().rss;
    let peak = before;
    for (let i = 0; i < 256; i++) {
      const back = await pool.decode(Buffer.from(enc.stored), 'shard:test', { k1: key }, enc.checksum);
      if (i === 0) expect(back.equals(plain)).toBe(true);
      pool.giveBack(back); // as a restore does once a chunk is written
      peak = Math.max(peak, process.memoryUsage().rss);
    }
    expect(peak - before).toBeLessThan(128 * 1024 * 1024);
  });

  it('lets the stored copies it checksums (verify) die on its threads as it goes', async () => {
    // The copies die there, and a thread that only checksums allocates almost nothing else: without a young
    // collection after each few MiB they stayed until V8 noticed (a verify of 1 GiB held ~25 MiB more).
    // process.memoryUsage().arrayBuffers counts the memory this isolate allocated, wherever it went since.
    const enc = await pool.encode(randomBytes(256 * 1024), opts);
    const before = process.memoryUsage().arrayBuffers;
    let most = 0;
    for (let i = 0; i < 256; i++) {
      expect(await pool.checksum(Buffer.from(enc.stored))).toBe(enc.checksum);
      most = Math.max(most, process.memoryUsage().arrayBuffers - before);
    }
    expect(most).toBeLessThan(12 * 1024 * 1024); // of 64 MiB checksummed (~31 MiB held without the collections)
  });

  it('decodes unencrypted, uncompressed objects into memory of their own, not a view of the stored copy', async () => {
    const plain = randomBytes(100_000);
    const enc = await pool.encode(Buffer.from(plain), { ...opts, key: null, cipher: 'none' as const, compression: 'none' as const });
    const back = await pool.decode(Buffer.from(enc.stored), 'shard:test', {}, enc.checksum);
    expect(back.equals(plain)).toBe(true);
    expect(back.byteOffset).toBe(0);
  });

  it('never takes back a buffer it did not lend', () => {
    const before = pool.spareBytes;
    pool.giveBack(Buffer.alloc(1 << 20));
    pool.giveBack(randomBytes(1 << 20));
    expect(pool.spareBytes).toBe(before);
  });
});
