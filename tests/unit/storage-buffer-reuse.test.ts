/**
 * A shard's stored copy is recycled for the next shard once every put of it is over (shard-store.ts). A put
 * that timed out is abandoned, not cancelled: it may still read the buffer after the retry succeeded, so the
 * buffer must be marked and never reused, or the late write would store another shard's bytes under this key.
 */
import { describe, expect, it } from 'vitest';
import { isStillRead } from '../../server/engine/storage/backend';
import { MemoryBackend } from '../../server/engine/storage/memory';
import { withRetries } from '../../server/engine/storage/retrying';

/** Its first put hangs until released (a write stuck on a slow disk or a stalled connection), the others succeed. */
class StuckOnce extends MemoryBackend {
  private stuck = true;
  release: () => void = () => undefined;
  override async put(key: string, data: Buffer): Promise<void> {
    if (this.stuck) {
      this.stuck = false;
      await new Promise<void>((resolve) => (this.release = resolve));
    }
    return super.put(key, data);
  }
}

const opts = { retries: 2, backoffMs: 1, timeoutMs: 50, sleep: async () => undefined };

describe('reuse of a put buffer', () => {
  it('marks the buffer of a put whose first attempt timed out (it may still be read), though the retry succeeded', async () => {
    const inner = new StuckOnce('stuck');
    const data = Buffer.alloc(1000, 1);
    await withRetries(inner, opts).put('data/ab/abc', data);
    expect(isStillRead(data)).toBe(true);
    inner.release();
  });

  it('leaves the buffer of a put that succeeded at once unmarked, and marks one whose put failed for good', async () => {
    const clean = Buffer.alloc(1000, 2); // memory of its own (Buffer.from of a string shares a pool slab)
    await withRetries(new MemoryBackend('ok'), opts).put('data/ab/abc', clean);
    expect(isStillRead(clean)).toBe(false);

    const failing = new MemoryBackend('bad');
    failing.put = async () => {
      throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    const lost = Buffer.alloc(1000, 3);
    await expect(withRetries(failing, opts).put('data/cd/cde', lost)).rejects.toThrow();
    expect(isStillRead(lost)).toBe(true);
  });
});
