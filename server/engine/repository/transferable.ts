/**
 * Buffers crossing to and from the codec worker threads go in postMessage's transfer list. Small Buffers
 * live in Node's shared pool (one ArrayBuffer behind many Buffers): transferring the pool would detach every
 * other Buffer in it, and from Node 21 on postMessage throws on it (DataCloneError: the pool is marked
 * untransferable; Node 20 copied it silently). A chunk buffer (chunk-buffers.ts) is a view into an ArrayBuffer
 * that is its alone: it travels whole, with the view's offset and length, without a copy.
 */
import { chunkBuffers } from './chunk-buffers';

/** The bytes as a Uint8Array that may be transferred: the same memory when it owns its whole ArrayBuffer (zero-copy), else a copy. */
export function transferable(b: Uint8Array): Uint8Array {
  if (chunkBuffers.isOwned(b.buffer)) return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer)) {
    return new Uint8Array(b.buffer, 0, b.byteLength);
  }
  return new Uint8Array(b);
}
