/**
 * Turns a byte stream into stored shards: content-defined chunks → keyed content id → dedup (within the
 * backup and against the catalog) → encode in the worker pool → replicas. At most `maxInFlight` chunks and
 * `maxInFlightBytes` of plaintext are being processed at once (backpressure), so memory stays flat whatever
 * the size of the backup or of its shards (a 20 MiB shard_size would otherwise hold 12 × 20 MiB, plus the
 * encoded copies).
 */
import { Chunker, type ChunkerOptions } from './chunker';
import { chunkBuffers } from '../repository/chunk-buffers';
import type { CodecPool } from '../repository/codec-pool';
import { ScanStage } from './scan-stage';
import { EngineError } from '../errors';
import type { Cipher } from '../repository/codec';
import type { EngineContext } from '../context';
import type { ShardIndexSession } from '../repository/shard-index';
import { storeNewShard, type StoredShard } from '../repository/shard-store';

export interface SinkStats {
  chunks: number;
  newShards: number;
  newPlainBytes: number;
  /** Of those, the bytes of manifest streams (file list, chunk table). */
  newManifestPlainBytes: number;
  newStoredBytes: number;
  referencedStoredBytes: number;
}

/** Shared by the data sink and the manifest sinks of one backup. */
export class ShardWriter {
  readonly stats: SinkStats = { chunks: 0, newShards: 0, newPlainBytes: 0, newManifestPlainBytes: 0, newStoredBytes: 0, referencedStoredBytes: 0 };
  private readonly seen = new Map<string, Promise<StoredShard>>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private inFlightBytes = 0;
  private failure: unknown = null;
  private readonly batch: ShardIndexSession;
  private readonly records = new Set<Promise<void>>();
  private readonly refs = new Map<string, Promise<StoredShard>>();
  onShard: (s: StoredShard) => void = () => undefined;

  constructor(
    private readonly ctx: EngineContext,
    private readonly backupId: string,
    private readonly level: string,
    /** The key of this level's content ids (keys.ts contentIdKey). */
    readonly levelKey: Buffer,
    private readonly keyId: string,
    private readonly key: Buffer | null,
    private readonly cipher: Cipher,
    private readonly maxInFlight = 12,
    private readonly maxInFlightBytes = 24 * 1024 * 1024,
  ) {
    this.batch = ctx.index.session(backupId, level, cipher !== 'none');
  }

  /**
   * Queues a chunk; resolves once there is room for more work. The shard itself arrives later through the
   * returned `shard` promise (wrapped, since a promise resolved with a promise would wait for it).
   */
  async add(plain: Buffer, kind: 'data' | 'manifest', cid?: string): Promise<{ shard: Promise<StoredShard> }> {
    if (this.failure) throw this.failure;
    this.stats.chunks++;
    const bytes = plain.length; // read now: the buffer is transferred to a worker
    const p = this.process(plain, kind, cid);
    const tracked = p.then(
      () => undefined,
      (err) => {
        this.failure ??= err;
      },
    );
    this.inFlight.add(tracked);
    this.inFlightBytes += bytes;
    void tracked.finally(() => {
      this.inFlight.delete(tracked);
      this.inFlightBytes -= bytes;
    });
    // One chunk is always let through, whatever its size.
    while (this.inFlight.size >= this.maxInFlight || (this.inFlight.size > 0 && this.inFlightBytes >= this.maxInFlightBytes)) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
    return { shard: p };
  }

  /** References a shard that is already stored (from a base backup's chunk table). */
  reference(shardId: string): Promise<StoredShard> {
    let p = this.refs.get(shardId);
    if (!p) {
      p = this.batch.reference(shardId).then((s) => {
        if (!s) {
          throw new EngineError('CONFLICT', `Shard ${shardId} of the base backup is no longer stored (the base backup was deleted meanwhile), was rebuilt from storage and not yet checked (run verify --read-data on the base backup), or is not encrypted while this backup is (encryption was turned on since: make a full backup). Run the backup again, or make a full backup.`);
        }
        this.stats.referencedStoredBytes += s.storedSize;
        this.onShard(s);
        return s;
      });
      p.catch((err) => (this.failure ??= err));
      this.refs.set(shardId, p);
    }
    return p;
  }

  /**
   * The content id comes with the chunk from the scan thread (ScanStage), or is computed on a codec thread:
   * the main thread only reads, chunks and schedules.
   */
  private async process(plain: Buffer, kind: 'data' | 'manifest', known?: string): Promise<StoredShard> {
    const { cid, data } = known ? { cid: known, data: plain } : await this.ctx.pool.contentId(plain, this.levelKey);
    const existing = this.seen.get(cid);
    if (existing) {
      chunkBuffers.give(data.buffer); // the chunk is not needed: its shard is already being stored
      return existing;
    }
    const p = this.store(cid, data, kind);
    this.seen.set(cid, p);
    return p;
  }

  private async store(cid: string, plain: Buffer, kind: 'data' | 'manifest'): Promise<StoredShard> {
    const reused = this.ctx.config.enable_deduplication ? await this.batch.lookup(cid) : null;
    let s: StoredShard;
    if (reused) {
      chunkBuffers.give(plain.buffer); // found stored: this copy of the chunk is not needed any more
      s = reused;
    } else {
      const rec = await storeNewShard(this.ctx, {
        backupId: this.backupId,
        contentId: cid,
        securityLevel: this.level,
        keyId: this.keyId,
        key: this.key,
        cipher: this.cipher,
        kind,
        plain,
      });
      // The record is batched; the backup waits for it (drain) before it can complete.
      const recorded = this.batch.record(rec);
      this.records.add(recorded);
      // A settled record leaves the set (its failure is kept in `failure`): the set does not grow with the backup.
      void recorded.then(
        () => this.records.delete(recorded),
        (err) => {
          this.failure ??= err;
          this.records.delete(recorded);
        },
      );
      s = { id: rec.id, plainSize: rec.plainSize, storedSize: rec.storedSize, isNew: true };
      this.stats.newShards++;
      this.stats.newPlainBytes += s.plainSize;
      if (kind === 'manifest') this.stats.newManifestPlainBytes += s.plainSize;
      this.stats.newStoredBytes += s.storedSize;
    }
    this.stats.referencedStoredBytes += s.storedSize;
    this.onShard(s);
    return s;
  }

  async drain(): Promise<void> {
    while (this.inFlight.size) await Promise.race(this.inFlight);
    await this.batch.flush();
    await Promise.allSettled(this.records);
    await Promise.allSettled(this.refs.values());
    if (this.failure) throw this.failure;
  }
}

/**
 * One chunked stream (file data, or a manifest stream) with its ordered table of shards. Given a codec pool,
 * its cuts (and the SHA-256 of the files written with `hashed`) are found on the pool's scan thread.
 */
export class ChunkSink {
  readonly table: Promise<StoredShard>[] = [];
  /** Stream offset where each emitted chunk ends. */
  private emittedEnd = 0;
  private readonly chunker: Chunker;
  private readonly stage: ScanStage | null;
  private pending: Buffer[] = [];
  /** The content ids (and lengths) of the chunks in `pending`, when the scan thread found them. */
  private pendingIds: { cid: string; length: number }[] = [];
  /** Of the chunk the chunker holds when the stream ends, from the scan thread. */
  private tailId: { cid: string; length: number } | null = null;

  constructor(
    private readonly writer: ShardWriter,
    private readonly kind: 'data' | 'manifest',
    mode: 'cdc' | 'fixed',
    sizes: Omit<ChunkerOptions, 'mode'>,
    private readonly onChunk: (index: number, start: number, end: number) => void = () => undefined,
    scanOn: CodecPool | null = null,
  ) {
    this.chunker = new Chunker({ mode, ...sizes });
    this.stage = scanOn
      ? new ScanStage(
          scanOn,
          { mode, ...sizes },
          (b) => {
            this.chunker.pushCut(b.data, b.cuts, this.collect);
            b.cids.forEach((cid, i) => this.pendingIds.push({ cid, length: b.lengths[i]! }));
            this.tailId = b.tail;
            return this.emitPending();
          },
          writer.levelKey,
        )
      : null;
  }

  private readonly collect = (c: Buffer) => this.pending.push(c);

  /** Bytes written but not yet cut into a chunk. */
  get buffered(): number {
    return this.chunker.buffered + (this.stage?.buffered ?? 0);
  }

  /** Whether write() can hash files (else the caller hashes them). */
  get hashesFiles(): boolean {
    return this.stage !== null;
  }

  /** `hashed` (only when hashesFiles): the bytes belong to the file whose SHA-256 endFile() returns. */
  async write(data: Uint8Array, hashed = false): Promise<void> {
    if (this.stage) return this.stage.write(data, hashed);
    this.chunker.push(data, this.collect);
    await this.emitPending();
  }

  /** Where to read the next bytes of a hashed file straight into (only when hashesFiles); then commit(). */
  room(): Buffer {
    if (!this.stage) throw new Error('internal: this chunk sink does not hash files');
    return this.stage.room();
  }

  /** Takes `n` bytes read into room(), as write(…, hashed) would. */
  commit(n: number, hashed: boolean): Promise<void> {
    if (!this.stage) throw new Error('internal: this chunk sink does not hash files');
    return this.stage.commit(n, hashed);
  }

  /** The SHA-256 (hex) of the bytes written with `hashed` since the last endFile(), once they are scanned. */
  async endFile(): Promise<{ digest: Promise<string> }> {
    if (!this.stage) throw new Error('internal: this chunk sink does not hash files');
    return this.stage.endFile();
  }

  async end(): Promise<void> {
    await this.stage?.end();
    this.chunker.flush(this.collect);
    if (this.tailId) this.pendingIds.push(this.tailId);
    this.tailId = null;
    await this.emitPending();
  }

  /** Releases the scan thread's state of this stream (after end(), or when the backup failed). */
  close(): void {
    this.stage?.close();
  }

  private async emitPending(): Promise<void> {
    const chunks = this.pending;
    const ids = this.pendingIds;
    this.pending = [];
    this.pendingIds = [];
    // Ids from the scan thread name these very chunks, or the backup stops: a chunk stored under another
    // chunk's id would restore the wrong bytes, silently.
    if (this.stage && (ids.length !== chunks.length || chunks.some((c, i) => c.length !== ids[i]!.length))) {
      throw new Error(`Internal error: the scan thread's content ids do not match the chunks cut (${ids.length} ids for ${chunks.length} chunks). The backup stopped before storing them; run it again, and report this if it happens again.`);
    }
    for (const [i, c] of chunks.entries()) {
      const start = this.emittedEnd;
      this.emittedEnd += c.length;
      const index = this.table.length;
      this.table.push((await this.writer.add(c, this.kind, ids[i]?.cid)).shard);
      this.onChunk(index, start, this.emittedEnd);
    }
  }

  /** Appends an already-stored shard to the table (no stream bytes); returns its index. */
  appendExisting(shard: Promise<StoredShard>): number {
    this.table.push(shard);
    return this.table.length - 1;
  }

  async shardIds(): Promise<string[]> {
    return (await Promise.all(this.table)).map((s) => s.id);
  }
}
