/**
 * Small files on their way to the thread that writes them (whole-file.ts), sent in batches: a message to a
 * thread and its answer cost two wake-ups, more than writing a small file's data. A batch leaves as soon as
 * fewer than `inFlight` are out; the files that arrive meanwhile make up the next one, so a busy writer gets
 * large batches and an idle one is never kept waiting.
 *
 * A batch's bytes travel in one buffer (the files' data one after another), a slab of STAGING bytes: one
 * buffer to transfer each way instead of one per file. The thread sends the slab back with its answer and
 * the queue keeps it for a later batch, so each file's bytes are copied once (into the slab) and no memory
 * dies on either thread. Restoring 1 GiB of chat JSON (30 % in 4–256 KiB files), the main thread had spent
 * ~0.2 s of its ~1.1 s copying each batch out of a staging area into a buffer of the batch's size, which then
 * died on the writing thread.
 */
import type { WholeFile, WrittenFiles } from './whole-file';

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
  /** The files' bytes: a slab, or a buffer of its own for a file larger than a slab. */
  data: Buffer;
  used: number;
}

/** A slab's size: a batch leaves once its files' bytes would not fit (a larger file goes alone). */
const STAGING = 1024 * 1024;
/**
 * Slabs kept for later batches. A restore has up to 32 files in hand (restore.ts MAX_WRITERS), a few slabs'
 * worth; one that comes back beyond this is dropped (it dies on this thread, as any buffer would).
 */
const KEEP_SLABS = 8;

export class WholeFileQueue {
  /** Batches full (of files or of bytes) waiting for a thread, in order. */
  private readonly sealed: Batch[] = [];
  private current: Batch | null = null;
  /** Slabs back from the thread, for the next batches. */
  private readonly slabs: ArrayBuffer[] = [];
  private out = 0;
  private scheduled = false;

  constructor(
    private readonly send: (files: WholeFile[]) => Promise<WrittenFiles>,
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
      // Never Node's shared pool (it cannot be transferred); not zeroed: every byte a file is given is copied over.
      const slab = f.size > STAGING ? undefined : this.slabs.pop();
      const data = slab ? Buffer.from(slab) : Buffer.allocUnsafeSlow(Math.max(f.size, STAGING));
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

  /** The current batch, closed to more files: each file's bytes are its part of the batch's buffer. */
  private seal(): void {
    const b = this.current;
    if (!b) return;
    this.current = null;
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
          ({ results, buffers }) => {
            let handedOut = false;
            batch.forEach((w, i) => {
              const r = results[i]!;
              if (r.done) w.resolve(r);
              else if ('data' in r) {
                handedOut = true; // its bytes are (part of) the slab: not reused
                w.resolve({ done: false, data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength) });
              } else w.reject(Object.assign(new Error(r.error), r.code ? { code: r.code } : {}));
            });
            if (handedOut) return;
            for (const slab of buffers) if (slab.byteLength === STAGING && this.slabs.length < KEEP_SLABS) this.slabs.push(slab);
          },
          (err: Error) => batch.forEach((w) => w.reject(err)),
        )
        .finally(() => {
          this.out--;
          this.schedule();
        });
    }
  }
}
