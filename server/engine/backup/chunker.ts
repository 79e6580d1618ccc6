/**
 * Content-defined chunking (FastCDC with normalized chunking) over a byte stream, plus a fixed-size mode.
 *
 * The whole backup is one logical stream (files concatenated in walk order), so small files are packed into
 * shards of about the average size, and an insertion only changes the shards around it: cut points depend
 * on the last 32 bytes seen, so boundaries re-synchronise right after a change.
 */
import { chunkBuffers } from '../repository/chunk-buffers';
import { CutFinder, type ChunkerOptions } from './cut-finder';

export type { ChunkerOptions } from './cut-finder';

export class Chunker {
  private readonly finder: CutFinder;
  /** The bytes of the chunk being gathered, when it began in an earlier push (always fewer than `max`). */
  private readonly buf: Buffer;
  private len = 0;
  private readonly cuts: number[] = [];

  constructor(opts: ChunkerOptions) {
    this.finder = new CutFinder(opts);
    this.buf = Buffer.allocUnsafe(this.finder.max);
  }

  /** Feeds bytes; calls `emit` for every complete chunk (a fresh Buffer the caller owns). */
  push(data: Uint8Array, emit: (chunk: Buffer) => void): void {
    this.cuts.length = 0;
    this.finder.find(data, this.cuts);
    this.pushCut(data, this.cuts, emit);
  }

  /**
   * Feeds bytes whose cuts were found elsewhere (by a CutFinder fed the same stream, on another thread):
   * `cuts` are the offsets in `data` after which each chunk ends, in increasing order.
   */
  pushCut(data: Uint8Array, cuts: ArrayLike<number>, emit: (chunk: Buffer) => void): void {
    let from = 0;
    for (let k = 0; k < cuts.length; k++) {
      const to = cuts[k]!;
      // Each chunk is copied once, from the input straight into its own buffer (plus the part carried over).
      const chunk = chunkBuffers.take(this.len + to - from);
      this.buf.copy(chunk, 0, 0, this.len);
      chunk.set(data.subarray(from, to), this.len);
      this.len = 0;
      from = to;
      emit(chunk);
    }
    if (from < data.length) {
      this.buf.set(data.subarray(from), this.len);
      this.len += data.length - from;
    }
  }

  get buffered(): number {
    return this.len;
  }

  /** Emits what is left at the end of the stream. */
  flush(emit: (chunk: Buffer) => void): void {
    if (this.len > 0) {
      const chunk = chunkBuffers.take(this.len);
      this.buf.copy(chunk, 0, 0, this.len);
      this.len = 0;
      emit(chunk);
    }
    this.finder.reset();
  }
}
