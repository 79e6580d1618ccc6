/**
 * Gathers calls for a few milliseconds (or up to `maxItems`) and runs them as one batch, one batch at a
 * time, in order. A failed batch rejects every call in it.
 */
interface Waiter<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

export class Batcher<T, R> {
  private queue: Waiter<T, R>[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(
    private readonly maxItems: number,
    private readonly delayMs: number,
    private readonly run: (items: T[]) => Promise<R[]>,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      if (this.queue.length >= this.maxItems) void this.flush();
      else this.timer ??= setTimeout(() => void this.flush(), this.delayMs);
    });
  }

  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const batch = this.queue;
    this.queue = [];
    if (batch.length) {
      this.running = this.running.then(async () => {
        try {
          const out = await this.run(batch.map((w) => w.item));
          batch.forEach((w, i) => w.resolve(out[i]!));
        } catch (err) {
          for (const w of batch) w.reject(err);
        }
      });
    }
    return this.running;
  }
}
