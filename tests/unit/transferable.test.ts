/**
 * What the codec threads put in postMessage's transfer list: a Buffer from Node's shared pool must be copied
 * (transferring the pool detaches its neighbours on Node 20 and throws DataCloneError from Node 21 on), a
 * Buffer that owns its whole ArrayBuffer must travel without a copy.
 */
import { randomBytes } from 'node:crypto';
import { MessageChannel } from 'node:worker_threads';
import { afterAll, describe, expect, it } from 'vitest';
import { transferable } from '../../server/engine/repository/transferable';

const channel = new MessageChannel();
afterAll(() => channel.port1.close());
const send = (u: Uint8Array) => channel.port1.postMessage(u, [u.buffer as ArrayBuffer]);

describe('transferable', () => {
  it('copies a pooled Buffer, which then transfers without touching the pool', () => {
    const neighbour = Buffer.from('a neighbour in the same pool');
    const pooled = Buffer.from('small, so from the pool');
    expect(pooled.buffer).toBe(neighbour.buffer); // the premise: both live in Node's pool
    const t = transferable(pooled);
    expect(t.buffer).not.toBe(pooled.buffer);
    expect(t.byteLength).toBe(t.buffer.byteLength);
    expect(Buffer.from(t).toString()).toBe('small, so from the pool');
    expect(() => send(t)).not.toThrow();
    expect(neighbour.toString()).toBe('a neighbour in the same pool');
    expect(pooled.toString()).toBe('small, so from the pool');
  });

  it('copies a view into part of a larger ArrayBuffer', () => {
    const whole = randomBytes(100_000);
    const part = whole.subarray(10, 5_000);
    const t = transferable(part);
    expect(t.buffer).not.toBe(whole.buffer);
    expect(Buffer.from(t).equals(part)).toBe(true);
  });

  it('hands over a Buffer that owns its ArrayBuffer without a copy', () => {
    const owned = randomBytes(70_000);
    expect(owned.byteLength).toBe(owned.buffer.byteLength);
    const t = transferable(owned);
    expect(t.buffer).toBe(owned.buffer);
    send(t);
    expect(owned.byteLength).toBe(0); // moved, not copied: the sender's view is detached
  });
});
