/**
 * Recycled memory for chunk plaintext. Every chunk used to be a fresh allocation, and first-touching fresh
 * pages is what a chunk's copy cost (on the benchmark machine ~3–6 ms per MiB, more than chunking it): the
 * backup's main thread spent up to half its time in that copy. A chunk now lives in a buffer of this
 * process's free list, travels to the codec threads and back without a copy (its whole ArrayBuffer is
 * transferred), and returns to the list once the shard is encoded or found already stored.
 *
 * A buffer is recycled only by the code that holds its last reference (the codec pool for a buffer the worker
 * handed back, the chunk sink for a deduplicated chunk), so no chunk is ever overwritten while in use.
 */
import { DeadMemory } from './dead-memory';

/** Capacities come in size classes from 64 KiB (nextCapacity), so a freed buffer fits the next chunk of about its size. */
const MIN_CAPACITY = 64 * 1024;
/**
 * What the free lists may hold in all (the in-flight chunks are bounded by the chunk sink). A buffer that does
 * not fit is dropped and freed at once (DeadMemory): left to V8, such buffers waited for a collection 20–30
 * MiB at a time, and with them freed 8 MiB of spares do the work of 16. A backup's peak RSS, 6 runs each in
 * turns, against 16 MiB left to the collector: /usr/share 180–188 against 185–208 MiB (mean 184 against
 * 197), 999 MiB of libraries 172–176 against 175–188 (mean 174 against 180); the same wall time.
 */
const MAX_FREE_BYTES = 8 * 1024 * 1024;
/** Dropped buffers between two young-generation collections on this thread. */
const COLLECT_EVERY = 8 * 1024 * 1024;

export class ChunkBuffers {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private freeBytes = 0;
  private readonly dead = new DeadMemory(COLLECT_EVERY);
  private readonly owned = new WeakSet<ArrayBuffer>();

  /**
   * A Buffer of exactly `length` bytes (contents undefined) over a recyclable ArrayBuffer of its own: a free one
   * of its class or of one of the next two, or new memory of its class.
   */
  take(length: number): Buffer {
    const capacity = capacityFor(length);
    let ab: ArrayBuffer | undefined;
    for (let c = capacity, k = 0; !ab && k < 3; c = nextCapacity(c), k++) {
      ab = this.free.get(c)?.pop();
      if (ab) this.freeBytes -= c;
    }
    const buffer = ab ?? uninitialized(capacity);
    this.owned.add(buffer);
    return Buffer.from(buffer, 0, length);
  }

  /** Whether this ArrayBuffer came from take() (or was adopted back after a round trip to a thread). */
  isOwned(ab: ArrayBufferLike): boolean {
    return this.owned.has(ab as ArrayBuffer);
  }

  /** Marks an ArrayBuffer that came back from a codec thread (a new object on this side) as one of ours again. */
  adopt(ab: ArrayBufferLike): void {
    if (ab instanceof ArrayBuffer && isCapacity(ab.byteLength)) this.owned.add(ab);
  }

  /** Bytes waiting in the free lists. */
  get freeBytesHeld(): number {
    return this.freeBytes;
  }

  /**
   * Returns a buffer nobody uses any more (the caller's was the last reference: it is reused, or detached and
   * freed). Dropped when the free lists are full.
   */
  give(ab: ArrayBufferLike): void {
    if (!(ab instanceof ArrayBuffer) || !this.owned.has(ab) || ab.byteLength === 0) return;
    this.owned.delete(ab);
    if (this.freeBytes + ab.byteLength > MAX_FREE_BYTES) return this.dead.drop(ab);
    let list = this.free.get(ab.byteLength);
    if (!list) this.free.set(ab.byteLength, (list = []));
    list.push(ab);
    this.freeBytes += ab.byteLength;
  }
}

/**
 * A new ArrayBuffer of `n` bytes whose memory is not cleared first: for buffers that are written before they
 * are read (a chunk's bytes, a decoded or encoded shard). `new ArrayBuffer(n)` clears it, a pass over memory
 * just allocated (on a restore of 1 GiB of chat JSON, ~2 % of the process's CPU).
 */
export function uninitialized(n: number): ArrayBuffer {
  return Buffer.allocUnsafeSlow(n).buffer as ArrayBuffer;
}

/** The capacity a buffer for `length` bytes gets: the smallest class that holds it. */
export function capacityFor(length: number): number {
  let c = MIN_CAPACITY;
  while (c < length) c = nextCapacity(c);
  return c;
}

/**
 * The class after `c`: powers of two up to 256 KiB, then four classes per doubling (2^k × 1, 1.25, 1.5, 1.75).
 * Chunks average 1 MiB, so half of them are just over it: with powers of two only, each took a 2 MiB buffer
 * (and its stored copy another), pages that a recycled buffer ends up touching.
 */
function nextCapacity(c: number): number {
  if (c < FINE_FROM) return c * 2;
  const step = 2 ** Math.floor(Math.log2(c)) / 4;
  return c + step;
}

const FINE_FROM = 256 * 1024;

/** Whether `n` is one of the classes (a buffer this module made, back from a thread). */
const isCapacity = (n: number) => n >= MIN_CAPACITY && capacityFor(n) === n;

/** The process's chunk buffers (the chunkers of every running backup, and the codec pool that returns them). */
export const chunkBuffers = new ChunkBuffers();
