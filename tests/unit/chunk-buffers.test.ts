/**
 * Chunk buffers come in classes a quarter of a power of two apart, so a chunk wastes at most a fifth of its
 * buffer, and a freed buffer serves the next chunk up to twice smaller before a new one is allocated.
 */
import { describe, expect, it } from 'vitest';
import { capacityFor, ChunkBuffers } from '../../server/engine/repository/chunk-buffers';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('chunk buffers', () => {
  it('gives each length the smallest class that holds it', () => {
    expect([1, 64 * KiB, 64 * KiB + 1, 300_000, MiB, MiB + 1, 1.1 * MiB, 2 * MiB + 60].map(capacityFor)).toEqual([64 * KiB, 64 * KiB, 80 * KiB, 320 * KiB, MiB, 1.25 * MiB, 1.25 * MiB, 2.5 * MiB]);
    for (let n = 1; n < 8 * MiB; n += 99_991) {
      const c = capacityFor(n);
      expect(c).toBeGreaterThanOrEqual(n);
      if (n > 64 * KiB) expect(c / n).toBeLessThan(1.25);
    }
  });

  it('serves a chunk from a freed buffer up to twice its size, never from a larger one', () => {
    const b = new ChunkBuffers();
    const big = b.take(1_990_000); // class 2 MiB
    const huge = b.take(4_090_000); // class 4 MiB
    b.give(big.buffer);
    b.give(huge.buffer);
    const again = b.take(1_150_000); // class 1.25 MiB: the 2 MiB one is four classes up
    expect(again.buffer).toBe(big.buffer);
    expect(again.length).toBe(1_150_000);
    const fresh = b.take(MiB); // the 4 MiB one is more than twice its size
    expect(fresh.buffer).not.toBe(huge.buffer);
    expect(fresh.buffer.byteLength).toBe(MiB);
    expect(b.freeBytesHeld).toBe(4 * MiB);
  });
});
