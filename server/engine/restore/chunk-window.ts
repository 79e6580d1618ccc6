/**
 * The decoded chunks a restore needs, fetched ahead in increasing order up to a budget in bytes, each kept
 * until its last use is written (a reference count per chunk, counted from the manifest beforehand).
 * Several files may be written at once, so several readers hold chunks; a chunk shared by many small files
 * is read and decoded once.
 *
 * Over the budget, the next chunk in order is still scheduled when a writer waits for it, so the earliest
 * file always progresses: files are started in manifest order and a backup keeps chunk order monotonic
 * (backup.ts cuts the stream before reusing a base's chunks). A chunk asked for behind that order (the
 * stand-in of a hard link whose first path is not restored) is read at once, and one asked for again after
 * its last counted use is simply read again.
 *
 * A chunk's memory is handed back to the source (to decode a later chunk into) only when it is certain nobody
 * reads it any more: it was fetched in order, all its counted uses are released, and every get() of it was
 * matched by a release() passing back the buffer it returned. Any doubt (a use given up, a chunk read out of
 * order) leaves it to the garbage collector instead.
 */
export interface ChunkSource {
  /** Reads and decodes chunk k (rejects when it cannot be read). */
  read(k: number): Promise<Buffer>;
  /** Takes back the memory of a chunk nobody reads any more. */
  done?(data: Buffer): void;
}

/** How long writers may wait with nothing released or fetched before the stall guard steps in. */
export const STALL_MS = 1000;

interface Held {
  p: Promise<Buffer>;
  left: number;
  bytes: number;
  /** The chunk once read. */
  value?: Buffer;
  /** get() calls not yet matched by a release() passing the chunk back. */
  leases: number;
  /** Fetched in order for counted uses (not the out-of-order read of a stand-in): may be handed back. */
  inOrder: boolean;
}

export class ChunkWindow {
  private readonly held = new Map<number, Held>();
  private readonly waiting = new Map<number, (() => void)[]>();
  private cursor = 0;
  private heldBytes = 0;
  /** Releases and fetches so far: the stall guard's sign of progress. */
  private moves = 0;
  private guard: NodeJS.Timeout | null = null;

  /**
   * @param order every chunk needed, ascending
   * @param uses how many extents will read each chunk
   * @param sizes the bytes each chunk is expected to hold (for the budget)
   */
  constructor(
    private readonly source: ChunkSource,
    private readonly order: number[],
    private readonly uses: Map<number, number>,
    private readonly sizes: Map<number, number>,
    private readonly budget: number,
  ) {}

  /**
   * Chunk k for one of its counted uses; call release(k, chunk) once that use is written (release(k) when it
   * is given up, or when the chunk may still be read elsewhere).
   */
  get(k: number): Promise<Buffer> {
    return this.take(k, true);
  }

  /** Waits until chunk k is read (rejects when it cannot be), without taking it for a use. */
  async ready(k: number): Promise<void> {
    await this.take(k, false);
  }

  private async take(k: number, lease: boolean): Promise<Buffer> {
    const h = this.held.get(k);
    if (h) {
      if (lease) h.leases++;
      return h.p;
    }
    const ahead = this.cursor < this.order.length && k >= this.order[this.cursor]! && (this.uses.get(k) ?? 0) > 0;
    if (!ahead) {
      const out = this.schedule(k, Math.max(1, this.uses.get(k) ?? 0), false);
      if (lease) out.leases++;
      return out.p;
    }
    await new Promise<void>((resolve) => {
      const list = this.waiting.get(k);
      if (list) list.push(resolve);
      else this.waiting.set(k, [resolve]);
      this.pump();
      this.watch();
    });
    return this.take(k, lease);
  }

  /**
   * One use of chunk k is done (or will never be made); the chunk is dropped after its last. `chunk`: the
   * buffer get(k) returned, passed back when this use will not read it again.
   */
  release(k: number, chunk?: Buffer): void {
    const h = this.held.get(k);
    if (!h) {
      // Not fetched yet: one use fewer to fetch it for.
      const left = this.uses.get(k);
      if (left === undefined) return;
      if (left > 1) this.uses.set(k, left - 1);
      else this.uses.delete(k);
      return;
    }
    this.moves++;
    if (chunk !== undefined && chunk === h.value && h.leases > 0) h.leases--;
    if (--h.left > 0) return;
    this.held.delete(k);
    this.heldBytes -= h.bytes;
    if (h.inOrder && h.leases === 0 && h.value) this.source.done?.(h.value);
    this.pump();
  }

  private schedule(k: number, left: number, inOrder = true): Held {
    const bytes = this.sizes.get(k) ?? 0;
    const p = this.source.read(k);
    const h: Held = { p, left, bytes, leases: 0, inOrder };
    // Registered before any get() awaits p, so the value is set before a writer can release the chunk.
    p.then(
      (b) => void (h.value = b),
      () => undefined,
    );
    this.moves++;
    this.held.set(k, h);
    this.heldBytes += bytes;
    this.uses.delete(k);
    const list = this.waiting.get(k);
    if (list) {
      this.waiting.delete(k);
      for (const resolve of list) resolve();
      if (!this.waiting.size) this.close(); // nobody waits: no guard (its timer would hold the process up to STALL_MS)
    }
    return h;
  }

  /** Stops the stall guard; it starts again when a writer next waits. */
  close(): void {
    if (this.guard) clearTimeout(this.guard);
    this.guard = null;
  }

  /**
   * The stall guard. A manifest in first-use order (as backups write it) always has the next chunk in order
   * awaited when the window is full; should one not be, writers could wait for chunks nobody fetches while
   * the chunks held wait for writers. So: while writers wait, a second without any release or fetch
   * fetches the earliest awaited chunk over the budget. A restore is never left hanging; it costs memory
   * only when the order is not what backups write.
   */
  private watch(): void {
    if (this.guard || !this.waiting.size) return;
    const seen = this.moves;
    this.guard = setTimeout(() => {
      this.guard = null;
      if (!this.waiting.size) return;
      if (this.moves === seen) {
        const k = Math.min(...this.waiting.keys());
        this.schedule(k, Math.max(1, this.uses.get(k) ?? 0));
      }
      this.watch();
    }, STALL_MS); // not unref'd: while writers wait, this timer is what keeps the process alive
  }

  /** Schedules the next chunks in order while under the budget, and over it the next one if it is awaited. */
  private pump(): void {
    while (this.cursor < this.order.length) {
      const k = this.order[this.cursor]!;
      const left = this.uses.get(k);
      if (left === undefined || this.held.has(k)) {
        this.cursor++;
        continue;
      }
      if (this.heldBytes >= this.budget && !this.waiting.has(k)) break;
      this.schedule(k, left);
      this.cursor++;
    }
  }
}
