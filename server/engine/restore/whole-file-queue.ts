/**
 * Small files on their way to the thread that writes them (whole-file.ts), sent in batches: a message to a
 * thread and its answer cost two wake-ups, more than writing a small file's data. A batch leaves as soon as
 * fewer than `inFlight` are out; the files that arrive meanwhile make up the next one, so a busy writer gets
 * large batches and an idle one is never kept waiting.
 */
import type { WholeFile, WholeFileResult } from './whole-file';

type Written = { done: true } | { done: false; data: Buffer };

interface Waiting {
  file: WholeFile;
  resolve: (r: Written) => void;
  reject: (e: Error) => void;
}

export class WholeFileQueue {
  private waiting: Waiting[] = [];
  private out = 0;
  private scheduled = false;

  constructor(
    private readonly send: (files: WholeFile[]) => Promise<WholeFileResult[]>,
    private readonly inFlight = 2,
    private readonly maxBatch = 64,
  ) {}

  /**
   * Writes the file: done, or not done with its bytes back (something is at its path). Its pieces are copied
   * before this returns: the caller may reuse them at once.
   */
  write(f: WholeFile): Promise<Written> {
    const data = new Uint8Array(f.size);
    let at = 0;
    for (const piece of f.pieces) {
      data.set(piece, at);
      at += piece.length;
    }
    return new Promise<Written>((resolve, reject) => {
      this.waiting.push({ file: { ...f, pieces: [data] }, resolve, reject });
      this.schedule();
    });
  }

  /** After this turn's files have joined the queue (a restore starts many files in one turn). */
  private schedule(): void {
    if (this.scheduled || this.out >= this.inFlight || !this.waiting.length) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.out < this.inFlight && this.waiting.length) {
      const batch = this.waiting.splice(0, this.maxBatch);
      this.out++;
      this.send(batch.map((w) => w.file))
        .then(
          (results) =>
            batch.forEach((w, i) => {
              const r = results[i]!;
              if (r.done) w.resolve(r);
              else if ('data' in r) w.resolve({ done: false, data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength) });
              else w.reject(Object.assign(new Error(r.error), r.code ? { code: r.code } : {}));
            }),
          (err: Error) => batch.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          this.out--;
          this.schedule();
        });
    }
  }
}
