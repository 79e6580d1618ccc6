/**
 * Memory a thread knows has just died, freed soon instead of whenever V8 would look. A buffer's bytes live
 * outside the JavaScript heap and go back to malloc only when the small ArrayBuffer object holding them is
 * collected. A thread that moves its data in large buffers allocates few objects of its own, so V8 rarely
 * collects by itself, and dead megabytes piled up: in the codec threads (AES-GCM's pieces, stored copies),
 * and on the main thread of a backup, where chunk buffers the free list had no room for (chunk-buffers.ts)
 * waited, 20–30 MiB at a time, for a collection.
 */
import { exposedGc, type Gc } from '../../exposed-gc';

export class DeadMemory {
  private bytes = 0;
  /** V8's gc(), looked up at the first collection (null: not yet; undefined: the runtime has none). */
  private gc: Gc | undefined | null = null;

  /**
   * @param every bytes to let die between two young-generation collections (each a fraction of a millisecond
   * on these small heaps)
   */
  constructor(private readonly every: number) {}

  /** Whether this runtime lets us collect (else the memory waits for V8, as before). */
  get collects(): boolean {
    return this.collector() !== undefined;
  }

  private collector(): Gc | undefined {
    if (this.gc === null) this.gc = exposedGc();
    return this.gc;
  }

  /** Counts `n` bytes that died on this thread; runs the young collection once `every` of them have. */
  add(n: number): void {
    this.bytes += n;
    if (this.bytes < this.every) return;
    this.bytes = 0;
    this.collector()?.({ type: 'minor' });
  }

  /**
   * Drops an ArrayBuffer the caller holds the last reference to, and counts it. Its memory first moves to a
   * new ArrayBuffer object (a transfer detaches `ab`), one that a young collection frees: `ab` itself may
   * have lived long enough to be in the old generation (a buffer that waited in a free list), which only a
   * full collection looks at. A buffer that cannot be transferred is just counted.
   */
  drop(ab: ArrayBuffer): void {
    const n = ab.byteLength;
    try {
      structuredClone(ab, { transfer: [ab] });
    } catch {
      // not detachable (none of ours): it dies where it is
    }
    this.add(n);
  }
}
