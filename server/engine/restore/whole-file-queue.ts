/**
 * Small files on their way to the thread that writes them (whole-file.ts), sent in batches: a message to a
 * thread and its answer cost two wake-ups, more than writing a small file's data. A batch leaves as soon as
 * fewer than `inFlight` are out; the files that arrive meanwhile make up the next one, so a busy writer gets
 * large batches and an idle one is never kept waiting.
 *
 * A batch's bytes travel in one buffer (the files' data one after another): one buffer to transfer and to
 * collect on each side instead of one per file. They are gathered in a staging area this queue keeps, and
 * copied into a buffer of the batch's size when it leaves.
 */
import type { WholeFile, WholeFileResult } from './whole-file';

type Written = { done: true } | { done: false; data: Buffer };

interface Waiting {
  file: WholeFile;
  /** Where the file's bytes are in the batch's buffer. */
  at: number;
  resolve: (r: Written) => void;
  reject: (e: Error) => void;
}

interface Batch {
  files: Waiting[];
  /** The files' bytes; the staging area until the batch leaves (or a buffer of its own when too large). */
  data: Buffer;
  used: number;
}

/** The staging area's size: a batch leaves once its files' bytes would not fit (a larger file goes alone). */
const STAGING = 1024 * 1024;

export class WholeFileQueue {
  /** Batches full (of files or of bytes) waiting for a thread, in order; they hold buffers of their own. */
  private readonly sealed: Batch[] = [];
  private current: Batch | null = null;
  private staging: Buffer | null = null;
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
    let b = this.current;
    if (b && b.data.length - b.used < f.size) {
      this.seal();
      b = null;
    }
    if (!b) {
      // Not zeroed: every byte a file is given is copied over.
      const data = f.size > STAGING ? Buffer.allocUnsafeSlow(f.size) : (this.staging ??= Buffer.allocUnsafeSlow(STAGING));
      b = this.current = { files: [], data, used: 0 };
    }
    const at = b.used;
    for (const piece of f.pieces) {
      b.data.set(piece, b.used);
      b.used += piece.length;
    }
    const batch = b;
    return new Promise<Written>((resolve, reject) => {
      batch.files.push({ file: f, at, resolve, reject });
      if (batch.files.length >= this.maxBatch) this.seal();
      this.schedule();
    });
  }

  /** The current batch, its bytes moved out of the staging area into a buffer of their own. */
  private seal(): void {
    const b = this.current;
    if (!b) return;
    this.current = null;
    if (b.data === this.staging) {
      // A buffer of its own (never Node's shared pool, which cannot be transferred), the staging area reused.
      const own = Buffer.allocUnsafeSlow(b.used);
      b.data.copy(own, 0, 0, b.used);
      b.data = own;
    }
    for (const w of b.files) w.file = { ...w.file, pieces: [b.data.subarray(w.at, w.at + w.file.size)] };
    this.sealed.push(b);
  }

  /** After this turn's files have joined the queue (a restore starts many files in one turn). */
  private schedule(): void {
    if (this.scheduled || this.out >= this.inFlight || (!this.sealed.length && !this.current)) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.out < this.inFlight) {
      if (!this.sealed.length) this.seal();
      const b = this.sealed.shift();
      if (!b) return;
      const batch = b.files;
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
