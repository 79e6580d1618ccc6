import { describe, expect, it } from 'vitest';
import { exposedGc } from '../../server/exposed-gc';
import { capacityFor, ChunkBuffers, uninitialized } from '../../server/engine/repository/chunk-buffers';

const MiB = 1024 * 1024;

describe('chunk buffers', () => {
  it('hands out buffers of the length asked over memory of a size class, and reuses what was given back', () => {
    const pool = new ChunkBuffers();
    const a = pool.take(700_000);
    expect(a.length).toBe(700_000);
    expect(a.buffer.byteLength).toBe(capacityFor(700_000));
    expect(capacityFor(700_000)).toBe(768 * 1024);
    a.fill(7);
    pool.give(a.buffer);
    expect(pool.freeBytesHeld).toBe(768 * 1024);
    const b = pool.take(720_000); // the same class: the same memory again
    expect(b.buffer).toBe(a.buffer);
    expect(pool.freeBytesHeld).toBe(0);
  });

  it('gives a chunk just over 1 MiB a buffer a quarter larger, not twice its size, and reuses one up to two classes up', () => {
    // Chunks average 1 MiB: with power-of-two classes half of them took 2 MiB each.
    for (const n of [1_048_577, 1_300_000, 1_600_000, 2_100_000, 3_000_000, 4_000_000]) {
      const c = capacityFor(n);
      expect(c).toBeGreaterThanOrEqual(n);
      expect(c).toBeLessThanOrEqual(n * 1.25);
    }
    expect(capacityFor(200_000)).toBe(256 * 1024); // powers of two below 256 KiB
    expect(capacityFor(100_000)).toBe(128 * 1024);
    const pool = new ChunkBuffers();
    const big = pool.take(1_300_000); // 1.25 MiB
    pool.give(big.buffer);
    expect(pool.take(700_000).buffer).not.toBe(big.buffer); // 768 KiB: three classes below, new memory
    const again = pool.take(1_000_000); // 1 MiB class, then 1.25 MiB
    expect(again.buffer).toBe(big.buffer);
    expect(again.length).toBe(1_000_000);
    // A buffer of a finer class comes back from a thread and is recognised as one of ours.
    const moved = structuredClone(again.buffer, { transfer: [again.buffer as ArrayBuffer] });
    pool.adopt(moved);
    pool.give(moved);
    expect(pool.freeBytesHeld).toBe(1_310_720);
  });

  it('takes back only its own buffers, and one after a round trip to a thread only once adopted', () => {
    const pool = new ChunkBuffers();
    pool.give(new ArrayBuffer(1024 * 1024)); // not one of its own
    expect(pool.freeBytesHeld).toBe(0);
    const a = pool.take(100_000);
    // A transfer detaches it here; what arrives is a new ArrayBuffer over the same memory.
    const back = structuredClone(a.buffer, { transfer: [a.buffer as ArrayBuffer] });
    expect(a.buffer.byteLength).toBe(0);
    pool.give(back);
    expect(pool.freeBytesHeld).toBe(0);
    pool.adopt(back);
    pool.give(back);
    expect(pool.freeBytesHeld).toBe(128 * 1024);
  });

  it('allocates new memory uncleared, of exactly the size asked, and transferable', () => {
    const ab = uninitialized(256 * 1024);
    expect(ab).toBeInstanceOf(ArrayBuffer);
    expect(ab.byteLength).toBe(256 * 1024);
    const moved = structuredClone(ab, { transfer: [ab] });
    expect(moved.byteLength).toBe(256 * 1024);
    expect(ab.byteLength).toBe(0);
  });

  it('frees a buffer the free lists have no room for at once, even one old enough to wait for a full collection', () => {
    const gc = exposedGc()!;
    const pool = new ChunkBuffers();
    const held = Array.from({ length: 40 }, () => pool.take(MiB - 1000));
    for (const b of held) b.fill(1); // resident, as a chunk's bytes are
    // Two young collections survived: the ArrayBuffer objects are in the old generation, which only a full
    // collection looks at (as a spare that waited in the free lists).
    gc({ type: 'minor' });
    gc({ type: 'minor' });
    const before = process.memoryUsage().arrayBuffers;
    const buffers = held.map((b) => b.buffer as ArrayBuffer);
    held.length = 0;
    for (const ab of buffers) pool.give(ab);
    expect(pool.freeBytesHeld).toBe(8 * MiB); // eight kept for the next chunks
    expect(buffers.slice(0, 8).every((ab) => ab.byteLength === MiB)).toBe(true);
    expect(buffers.slice(8).every((ab) => ab.byteLength === 0)).toBe(true); // the others detached, their memory handed on to die young
    // The 32 dropped MiB go back to malloc with no full collection (V8 frees a young buffer's memory on a
    // background thread, so it is waited for, asleep rather than in the event loop). Left as they were, in
    // the old generation, they stay (under 1 MiB of the 32 comes back without the transfer in DeadMemory.drop).
    // Node 22's V8 frees 27 of them at once, the last few at a later collection: half is the bar.
    const nap = new Int32Array(new SharedArrayBuffer(4));
    let freed = 0;
    for (let i = 0; i < 200 && freed < 16 * MiB; i++) {
      Atomics.wait(nap, 0, 0, 5);
      freed = before - process.memoryUsage().arrayBuffers;
    }
    expect(freed).toBeGreaterThanOrEqual(16 * MiB);
  });
});

