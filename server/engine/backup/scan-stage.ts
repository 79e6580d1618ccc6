/**
 * The data stream's cut points and its large files' SHA-256, found on the codec pool's scan thread instead of
 * the main thread (they were most of its time: ~1.2 s and ~0.6 s per GiB). Bytes are gathered into blocks of
 * BLOCK bytes that travel to the thread and back (transferred, not copied); up to DEPTH blocks are out at
 * once, so the thread scans while the main thread reads the next ones and packs chunks from the last. Blocks
 * come back in order, each with its cuts, and the chunker cuts exactly there (the same CutFinder, fed the
 * same stream: the cuts do not depend on how it is split into blocks).
 */
import { chunkBuffers } from '../repository/chunk-buffers';
import type { CodecPool, Scanned } from '../repository/codec-pool';
import type { ChunkerOptions } from './cut-finder';

const BLOCK = 1024 * 1024;
const DEPTH = 4;

export class ScanStage {
  private readonly stream: number;
  private stage: Buffer | null = null;
  private used = 0;
  /** [from, to, ends] triples of hashed file bytes in the stage. */
  private files: number[] = [];
  private resetNext = false;
  private readonly out: Promise<Scanned>[] = [];
  private readonly digests: { resolve: (d: string) => void; reject: (e: unknown) => void }[] = [];
  private held = 0;

  constructor(
    private readonly pool: CodecPool,
    private readonly opts: ChunkerOptions,
    /** Receives every block back in stream order with its cuts; the block's memory is reused after. */
    private readonly onBlock: (block: Scanned) => Promise<void>,
    /** The content-id key: given, the thread also hashes each chunk into its content id (Scanned.cids). */
    private readonly idKey: Buffer | null = null,
  ) {
    this.stream = pool.newScanStream();
  }

  /** Bytes written and not yet handed back to `onBlock`. */
  get buffered(): number {
    return this.held;
  }

  /** `hashed`: the bytes belong to the file whose SHA-256 endFile() returns. */
  async write(data: Uint8Array, hashed: boolean): Promise<void> {
    let pos = 0;
    while (pos < data.length) {
      this.stage ??= chunkBuffers.take(BLOCK);
      const k = Math.min(BLOCK - this.used, data.length - pos);
      this.stage.set(data.subarray(pos, pos + k), this.used);
      if (hashed) this.hashSpan(this.used, this.used + k, 0);
      this.used += k;
      this.held += k;
      pos += k;
      if (this.used === BLOCK) await this.post();
    }
  }

  /**
   * The free part of the current block, for a caller to read file bytes straight into (no copy); commit()
   * then takes the first `n` of them. Nothing else may write to the stage in between.
   */
  room(): Buffer {
    this.stage ??= chunkBuffers.take(BLOCK);
    return this.stage.subarray(this.used, BLOCK);
  }

  /** Takes `n` bytes read into room(); `hashed` as for write(). */
  async commit(n: number, hashed: boolean): Promise<void> {
    if (n <= 0) return;
    if (hashed) this.hashSpan(this.used, this.used + n, 0);
    this.used += n;
    this.held += n;
    if (this.used === BLOCK) await this.post();
  }

  /** Ends the hashed file: its SHA-256 (hex) arrives with the block that holds its last bytes, sent now. */
  async endFile(): Promise<{ digest: Promise<string> }> {
    const digest = new Promise<string>((resolve, reject) => this.digests.push({ resolve, reject }));
    digest.catch(() => undefined); // awaited by the caller; a failed backup may never get there
    this.hashSpan(this.used, this.used, 1);
    await this.post();
    return { digest };
  }

  /**
   * Hands every block back; the next byte written starts a chunk. With content ids, the last block is sent
   * even when empty: it carries the id of what is left of the last chunk (Scanned.tail).
   */
  async end(): Promise<void> {
    if (this.used > 0 || this.files.length || this.idKey) await this.post(true);
    while (this.out.length) await this.takeOldest();
    this.resetNext = true;
  }

  /** Drops the stream's state on the scan thread. */
  close(): void {
    this.pool.endScan(this.stream);
  }

  private hashSpan(from: number, to: number, ends: number): void {
    const f = this.files;
    const n = f.length;
    if (n && f[n - 1] === 0 && f[n - 2] === from) {
      f[n - 2] = to;
      f[n - 1] = ends;
    } else f.push(from, to, ends);
  }

  private async post(final = false): Promise<void> {
    const block = (this.stage ?? chunkBuffers.take(BLOCK)).subarray(0, this.used);
    const ids = this.idKey ? { key: this.idKey, final } : undefined;
    const p = this.pool.scan(this.stream, block, this.opts, this.resetNext, this.files, ids);
    p.catch(() => undefined); // taken in order by takeOldest, which rethrows
    this.out.push(p);
    this.stage = null;
    this.used = 0;
    this.files = [];
    this.resetNext = false;
    while (this.out.length > DEPTH) await this.takeOldest();
  }

  private async takeOldest(): Promise<void> {
    let r: Scanned;
    try {
      r = await this.out.shift()!;
    } catch (err) {
      for (const w of this.digests.splice(0)) w.reject(err);
      throw err;
    }
    for (const d of r.digests) this.digests.shift()!.resolve(d);
    this.held -= r.data.length;
    await this.onBlock(r);
    chunkBuffers.give(r.data.buffer);
  }
}
