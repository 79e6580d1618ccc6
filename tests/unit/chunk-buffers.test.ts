import { describe, expect, it } from 'vitest';
import { capacityFor, ChunkBuffers, uninitialized } from '../../server/engine/repository/chunk-buffers';

describe('chunk buffers', () => {
  it('hands out buffers of the length asked over memory of a power-of-two capacity, and reuses what was given back', () => {
    const pool = new ChunkBuffers();
    const a = pool.take(700_000);
    expect(a.length).toBe(700_000);
    expect(a.buffer.byteLength).toBe(capacityFor(700_000));
    expect(capacityFor(700_000)).toBe(1024 * 1024);
    a.fill(7);
    pool.give(a.buffer);
    expect(pool.freeBytesHeld).toBe(1024 * 1024);
    const b = pool.take(900_000); // the same capacity: the same memory again
    expect(b.buffer).toBe(a.buffer);
    expect(pool.freeBytesHeld).toBe(0);
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
});
