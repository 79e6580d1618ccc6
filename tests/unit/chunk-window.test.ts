/**
 * The restore's read-ahead: chunks fetched in order within a byte budget, each read once while it has counted
 * uses left, dropped after its last; a writer waiting beyond the budget still gets its chunk (no deadlock),
 * and a chunk asked for again after its last use is read again.
 */
import { describe, expect, it } from 'vitest';
import { ChunkWindow, STALL_MS } from '../../server/engine/restore/chunk-window';

const MiB = 1024 * 1024;

function setup(uses: Record<number, number>, budget: number) {
  const reads: number[] = [];
  const order = Object.keys(uses)
    .map(Number)
    .sort((a, b) => a - b);
  const window = new ChunkWindow(
    {
      read: (k) => {
        reads.push(k);
        return k === 99 ? Promise.reject(new Error('lost')) : Promise.resolve(Buffer.from([k]));
      },
    },
    order,
    new Map(order.map((k) => [k, uses[k]!])),
    new Map(order.map((k) => [k, MiB])),
    budget,
  );
  return { window, reads };
}

describe('ChunkWindow', () => {
  it('reads ahead in order up to the budget, and further only as chunks are released', async () => {
    const { window, reads } = setup({ 0: 1, 1: 1, 2: 1, 3: 1, 4: 1, 5: 1 }, 2 * MiB);
    expect((await window.get(0))[0]).toBe(0);
    expect(reads).toEqual([0, 1]);
    window.release(0);
    expect(reads).toEqual([0, 1, 2]);
    window.release(1);
    window.release(2);
    expect(reads).toEqual([0, 1, 2, 3, 4]);
  });

  it('reads a chunk shared by several uses once, and drops it after the last', async () => {
    const { window, reads } = setup({ 0: 3, 1: 1 }, 1 * MiB);
    await Promise.all([window.get(0), window.get(0), window.get(0)]);
    window.release(0);
    window.release(0);
    expect(reads).toEqual([0]);
    window.release(0);
    expect(reads).toEqual([0, 1]);
    // Asked for again after its last counted use (a hard link written as a copy): read again.
    expect((await window.get(0))[0]).toBe(0);
    expect(reads).toEqual([0, 1, 0]);
  });

  it('over the budget, schedules the next chunk only when a writer waits for it (later files do not pull the window ahead)', async () => {
    const { window, reads } = setup({ 0: 1, 1: 1, 2: 1, 3: 1 }, 1 * MiB);
    await window.get(0); // holds 0: the budget is full
    const later = window.get(3); // a later file: waits, reads nothing
    await new Promise((r) => setImmediate(r));
    expect(reads).toEqual([0]);
    expect((await window.get(1))[0]).toBe(1); // the next in order, awaited: scheduled over the budget
    expect(reads).toEqual([0, 1]);
    window.release(0);
    window.release(1);
    expect(reads).toEqual([0, 1, 2, 3]); // 2 within the budget, then 3, next in order and awaited
    expect((await later)[0]).toBe(3);
  });

  it('a writer waiting for a chunk out of first-use order gets it within a second, never waits for ever', async () => {
    const { window, reads } = setup({ 0: 1, 1: 1, 2: 1 }, 1 * MiB);
    await window.get(0); // the budget is full; 0 is held by a writer that waits for 2 before releasing it
    const started = Date.now();
    const out = window.get(2); // 1 is next in order, but nobody waits for it: the pump alone would stall
    await new Promise((r) => setImmediate(r));
    expect(reads).toEqual([0]);
    expect((await out)[0]).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(STALL_MS - 50);
    expect(reads).toEqual([0, 2]);
  });

  it('uses given up before their chunk is read lower its count; a lost chunk rejects', async () => {
    const { window, reads } = setup({ 0: 2, 99: 1 }, 10 * MiB);
    window.release(99);
    await window.get(0);
    expect(reads).toEqual([0]); // 99 has no use left: never read
    const { window: w2 } = setup({ 99: 1 }, 10 * MiB);
    await expect(w2.get(99)).rejects.toThrow('lost');
  });
});
