/**
 * Reading the small files of a backup. Each costs an open, a read and a close: from the page cache that is
 * ~20–100 µs done on the main thread, but ~90 µs of the main thread's time done on the thread pool (three
 * round trips, each waking a pool thread and then the main thread again, on two cores), which was most of a
 * warm backup of /usr/share. From the disk, it is the other way round: a read on the main thread stops
 * everything for a seek, while 64 reads in flight on the pool overlap. So the reader times each read it
 * makes on the main thread, and after one that took long enough to have waited for the disk it reads the
 * next files on the pool, ahead of the chunker, before trying the main thread again. Where the project's addon
 * native/readfiles is built, none of this applies: every file is read on the pool, in batches (batch-read.ts).
 */
import fs from 'node:fs';
import { performance } from 'node:perf_hooks';
import { chunkBuffers } from '../repository/chunk-buffers';
import { batchReader, type BatchReader } from '../batch-read';
import type { SourceItem } from './source';

/** Larger files are streamed in blocks (readFileBlocks), not read whole. */
export const SMALL_FILE = 512 * 1024;
const READ_SIZE = 1024 * 1024;
const AHEAD_FILES = 64;
const AHEAD_BYTES = 32 * 1024 * 1024;
/**
 * A read on the main thread (open, read, close) slower than this plus the copy (at 2 GB/s) waited for the
 * disk. On this project's 2-vCPU VM a 4 KiB file took 13-23 µs from the page cache (p99 63) and 97-143 µs
 * from the disk (p10-p90): the earlier 0.25 ms took every cold read for a cached one, and a backup of
 * 200,000 small files, caches dropped, read them all on the main thread, one disk wait at a time.
 */
const DISK_MS = 0.075;
/** Slow reads in a row that send the reads to the pool: one is an outlier (~1 % of cached reads), two a cold tree. */
const SLOW_IN_ROW = 2;
/**
 * After such a read, this many files are read on the thread pool before the main thread tries again; twice
 * as many each time the first reads of the try wait again (a cold tree: each try costs a read that stops the
 * main thread for the disk), back to this after FAST_STREAK reads in a row that did not wait.
 */
const POOL_RUN = 256;
const MAX_POOL_RUN = 16384;
const FAST_STREAK = 64;

/** Whether a read of `bytes` that took `ms` on the main thread waited for the disk. */
export function waitedForDisk(ms: number, bytes: number): boolean {
  return ms > DISK_MS + bytes / 2e6;
}

export class SmallFileReader {
  /** Files still to read on the pool before the main thread is tried again, and the next such run. */
  private poolLeft = 0;
  private poolRun = POOL_RUN;
  /** Main-thread reads in a row that did not wait for the disk, and that did. */
  private fast = 0;
  private slow = 0;
  /** Reads made on the main thread and on the pool (for tests and profiles). */
  readonly counts = { main: 0, pool: 0 };

  constructor(
    private readonly clock: () => number = () => performance.now(),
    /** With native/readfiles, every read goes to the pool in batches (batch-read.ts): cheaper than any of the above. */
    private readonly batch: BatchReader | null = batchReader(),
  ) {}

  /** Whether the next reads go to the pool (started early, to overlap), not the main thread. */
  get onPool(): boolean {
    return this.batch !== null || this.poolLeft > 0;
  }

  read(file: string, size: number): Promise<Buffer> {
    if (this.batch) {
      this.counts.pool++;
      return this.batch.read(file, size, readSmallFile);
    }
    if (this.poolLeft > 0) {
      this.poolLeft--;
      this.counts.pool++;
      return readSmallFile(file, size);
    }
    this.counts.main++;
    const started = this.clock();
    let data: Buffer;
    try {
      data = readSmallFileSync(file, size);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!waitedForDisk(this.clock() - started, data.length)) {
      this.slow = 0;
      if (++this.fast === FAST_STREAK) this.poolRun = POOL_RUN;
    } else if (++this.slow === SLOW_IN_ROW) {
      this.poolLeft = this.poolRun;
      this.poolRun = this.fast < FAST_STREAK ? Math.min(2 * this.poolRun, MAX_POOL_RUN) : POOL_RUN;
      this.fast = 0;
      this.slow = 0;
    }
    return Promise.resolve(data);
  }
}

/**
 * The items of a walk (in the batches it delivers them), each regular file that `wanted` accepts and that is
 * small given with its content.
 * While the reader goes to the pool, up to AHEAD_FILES files (AHEAD_BYTES) are read ahead of the consumer,
 * in walk order, so their round trips overlap (with the batch reader, always); from the page cache, without
 * it, a file is read when it is taken.
 */
export async function* readAhead(
  batches: AsyncIterable<SourceItem[]>,
  wanted: (it: SourceItem) => boolean,
  reader = new SmallFileReader(),
): AsyncGenerator<{ it: SourceItem; content: Promise<Buffer> | null }> {
  const iter = batches[Symbol.asyncIterator]();
  const window: { it: SourceItem; small: boolean; content: Promise<Buffer> | null }[] = [];
  let batch: SourceItem[] = [];
  let at = 0;
  let bytes = 0;
  let exhausted = false;
  try {
    for (;;) {
      while (!exhausted && window.length < AHEAD_FILES && bytes < AHEAD_BYTES) {
        if (at === batch.length) {
          const r = await iter.next();
          if (r.done) exhausted = true;
          else [batch, at] = [r.value, 0];
          continue;
        }
        const it = batch[at++]!;
        const small = it.type === 'f' && it.size <= SMALL_FILE && wanted(it);
        const content = small && reader.onPool ? reader.read(it.abs, it.size) : null;
        content?.catch(() => undefined);
        if (content) bytes += it.size;
        window.push({ it, small, content });
      }
      const next = window.shift();
      if (!next) return;
      if (next.content) bytes -= next.it.size;
      else if (next.small) next.content = reader.read(next.it.abs, next.it.size);
      yield { it: next.it, content: next.content };
    }
  } finally {
    // A consumer that stops early (a failed or cancelled backup) stops the walk too: it may hold a thread.
    if (!exhausted) await iter.return?.();
  }
}

/**
 * A small file's bytes, whatever its size is by now: open, read, close with callbacks. fs.promises.readFile
 * makes four thread-pool round trips through a FileHandle (open, fstat, read, close); the walk's size saves
 * the fstat, and callbacks save the FileHandle's promise and finalizer work.
 *
 * The bytes are read into a chunk buffer (chunk-buffers.ts), which the caller gives back once it copied them:
 * a new buffer per file raised the main isolate's external memory until a full collection freed it, and V8
 * counts that rise against the old generation's room (a 1 GiB backup has 205 MiB of such files).
 */
export function readSmallFile(file: string, size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    fs.open(file, 'r', (err, fd) => {
      if (err) return reject(err);
      const parts: Buffer[] = [];
      let total = 0;
      const finish = (failure: Error | null) =>
        fs.close(fd, (closeErr) => {
          if (failure ?? closeErr) reject(failure ?? closeErr);
          else resolve(joined(parts, total));
        });
      // One byte more than the walk saw, so a single read also tells whether the file ended there.
      const next = (want: number) => {
        const buf = chunkBuffers.take(want);
        fs.read(fd, buf, 0, want, total, (readErr, n) => {
          if (readErr) return finish(readErr);
          parts.push(n === want ? buf : buf.subarray(0, n));
          total += n;
          if (n < want) finish(null);
          else next(Math.max(want, READ_SIZE));
        });
      };
      next(size + 1);
    });
  });
}

/** The same read on the calling thread: the bytes as they are now, whatever the walk's size said. */
export function readSmallFileSync(file: string, size: number): Buffer {
  const fd = fs.openSync(file, 'r');
  try {
    const parts: Buffer[] = [];
    let total = 0;
    for (let want = size + 1; ; want = Math.max(want, READ_SIZE)) {
      const buf = chunkBuffers.take(want);
      const n = fs.readSync(fd, buf, 0, want, total);
      parts.push(n === want ? buf : buf.subarray(0, n));
      total += n;
      if (n < want) return joined(parts, total);
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** The parts of a file that grew while read, in one buffer; the parts' chunk buffers go back. */
function joined(parts: Buffer[], total: number): Buffer {
  if (parts.length === 1) return parts[0]!;
  const all = Buffer.concat(parts, total);
  for (const p of parts) chunkBuffers.give(p.buffer);
  return all;
}
