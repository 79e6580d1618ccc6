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
  const done: Buffer[] = [];
  const order = Object.keys(uses)
    .map(Number)
    .sort((a, b) => a - b);
  const window = new ChunkWindow(
    {
      read: (k) => {
        reads.push(k);
        return k === 99 ? Promise.reject(new Error('lost')) : Promise.resolve(Buffer.from([k]));
      },
      done: (data) => done.push(data),
    },
    order,
    new Map(order.map((k) => [k, uses[k]!])),
    new Map(order.map((k) => [k, MiB])),
    budget,
  );
  return { window, reads, done };
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

  it('leaves no timer behind once nobody waits: the stall guard would hold a finished restore up to a second', async () => {
    const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const { window } = setup({ 0: 1, 1: 1, 2: 1 }, 1 * MiB);
    const zero = await window.get(0); // the budget is full
    const two = window.get(2); // out of order (1 is next): waits, and the guard is armed
    expect(timers()).toBe(before + 1);
    window.release(0, zero); // 1 then 2 are read: nobody waits any more
    expect((await two)[0]).toBe(2);
    expect(timers()).toBe(before);

    const { window: w2 } = setup({ 0: 1, 1: 1, 2: 1 }, 1 * MiB);
    const first = await w2.get(0);
    const later = w2.get(2);
    expect(timers()).toBe(before + 1);
    w2.close(); // a restore that ends (or fails) stops it too
    expect(timers()).toBe(before);
    w2.release(0, first);
    expect((await later)[0]).toBe(2);
  });

  it('uses given up before their chunk is read lower its count; a lost chunk rejects', async () => {
    const { window, reads } = setup({ 0: 2, 99: 1 }, 10 * MiB);
    window.release(99);
    await window.get(0);
    expect(reads).toEqual([0]); // 99 has no use left: never read
    const { window: w2 } = setup({ 99: 1 }, 10 * MiB);
    await expect(w2.get(99)).rejects.toThrow('lost');
  });

  it('hands a chunk back only once every use is released and every get() gave the chunk back', async () => {
    const { window, done } = setup({ 0: 2, 1: 1, 2: 2 }, 10 * MiB);
    const [a, b] = await Promise.all([window.get(0), window.get(0)]);
    window.release(0, a);
    expect(done).toEqual([]); // one use still reads it
    window.release(0, b);
    expect(done).toEqual([a]);

    // A use given up without passing the chunk back may still hold it: left to the garbage collector.
    const one = await window.get(1);
    window.release(1);
    expect(done).toEqual([a]);
    expect(one[0]).toBe(1);

    // ready() takes no use; a second get() for the same use keeps the chunk out of the free list.
    await window.ready(2);
    const c = await window.get(2);
    await window.get(2);
    await window.get(2);
    window.release(2, c);
    window.release(2, c);
    expect(done).toEqual([a]);
  });

  it('never hands back a chunk read out of order, nor one passed back by a use of an earlier read', async () => {
    const { window, done } = setup({ 0: 1, 1: 1 }, 10 * MiB);
    const first = await window.get(0);
    window.release(0, first);
    expect(done).toEqual([first]);
    const again = await window.get(0); // after its last counted use: read again, out of order
    window.release(0, again);
    expect(done).toEqual([first]);
    const one = await window.get(1);
    window.release(1, first); // not this read's buffer
    expect(done).toEqual([first]);
    expect(one[0]).toBe(1);
  });
});
