/**
 * Reads shards back to plaintext: catalog record → first good replica (fail-over on missing or damaged
 * copies) → decrypt + decompress in the worker pool → content check. Also loads the data keys they need.
 */
import { IntegrityError, readHeader } from '../repository/codec';
import type { ShardRecord } from '../catalog/catalog';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import { contentId, contentIdKey } from '../keys/keys';
import { type CheckedShard, checkShardObject, UNVERIFIED } from '../repository/content-check';
import { fetchShard } from '../repository/shard-store';
import type { SecurityLevel } from '../types';

export class ShardReader {
  private readonly records = new Map<string, ShardRecord>();
  private readonly keys = new Map<string, Promise<Buffer | null>>();
  private allowPlain: boolean | null = null;

  /**
   * @param tagSuffices encrypted shards are accepted on their GCM tag, without the SHA-256 of the stored
   * object (codec.ts DecodeOptions): a restore's choice; verify checks every byte.
   */
  constructor(
    private readonly ctx: EngineContext,
    private readonly level: SecurityLevel,
    private readonly tagSuffices = false,
  ) {}

  /** Loads catalog records (and their data keys) for these shard ids. Unknown ids are reported as missing. */
  async load(ids: string[]): Promise<void> {
    this.allowPlain ??= await this.ctx.keySource.plaintextAllowed();
    const todo = [...new Set(ids)].filter((id) => !this.records.has(id));
    const found = await this.ctx.index.records(todo);
    for (const [id, rec] of found) {
      this.records.set(id, rec);
      // A shard imported from storage and not yet checked names no key: its header's key is loaded on read.
      if (rec.keyId && !(await this.key(rec.keyId))) {
        throw new EngineError('INTEGRITY', `Data key ${rec.keyId} is missing from the catalog; rebuild the catalog from storage (plexichat-backup recover-catalog).`);
      }
    }
  }

  /** Drops cached records (a shard re-created under its name has a new row); load them again before reading. */
  forget(ids: string[]): void {
    for (const id of ids) this.records.delete(id);
  }

  record(id: string): ShardRecord | undefined {
    return this.records.get(id);
  }

  /** A data key of this reader's security level, from the context's key source (key-source.ts); null for any other id. */
  key(keyId: string): Promise<Buffer | null> {
    let k = this.keys.get(keyId);
    if (!k) {
      k = this.ctx.keySource.dataKey(keyId, this.level);
      this.keys.set(keyId, k);
    }
    return k;
  }

  async read(id: string): Promise<Buffer> {
    const rec = this.records.get(id);
    if (!rec) throw new EngineError('INTEGRITY', `Missing required shards: shard ${id} is not in the catalog.`);
    this.allowPlain ??= await this.ctx.keySource.plaintextAllowed();
    const opts = { level: this.level, keyFor: (k: string) => this.key(k), allowPlain: this.allowPlain };
    return fetchShard(this.ctx, id, rec.replicas, async (stored) => {
      if (rec.checksum === UNVERIFIED) return (await checkShardObject(this.ctx, id, stored, opts)).plain;
      // Checksum, decryption and decompression all happen in a worker; the main thread only moves bytes.
      const header = readHeader(stored);
      const key = header.cipher === 'none' ? null : await this.key(header.keyId);
      const plain = await this.ctx.pool.decode(stored, rec.contentId, key ? { [header.keyId]: key } : {}, { expectedChecksum: rec.checksum, allowPlain: this.allowPlain!, tagSuffices: this.tagSuffices });
      if (header.cipher === 'none' && contentId(contentIdKey(this.ctx.idKey, this.level), plain) !== rec.contentId) {
        throw new IntegrityError('content id mismatch: the shard does not hold the data it should');
      }
      return plain;
    }, rec.coding, rec.storedSize);
  }

  /** The full content check of one stored copy (see content-check.ts), with this reader's keys and rules. */
  async check(id: string, stored: Buffer): Promise<CheckedShard> {
    this.allowPlain ??= await this.ctx.keySource.plaintextAllowed();
    return checkShardObject(this.ctx, id, stored, { level: this.level, keyFor: (k) => this.key(k), allowPlain: this.allowPlain });
  }

  /** Yields the decoded shards of a stream, in order, fetching up to `ahead` at a time. */
  async *readAll(ids: string[], ahead = 4): AsyncGenerator<Buffer> {
    const window: Promise<Buffer>[] = [];
    let next = 0;
    const fill = () => {
      while (window.length < ahead && next < ids.length) {
        const p = this.read(ids[next++]!);
        p.catch(() => undefined);
        window.push(p);
      }
    };
    fill();
    while (window.length) {
      const b = await window.shift()!;
      fill();
      yield b;
    }
  }

  /** Yields the lines of an NDJSON stream stored across shards (a line may span two shards). */
  async *lines(ids: string[]): AsyncGenerator<string> {
    for await (const batch of this.lineBatches(ids)) for (const line of batch) yield line;
  }

  /**
   * The lines of lines(), at most `max` at a time (a batch never waits for the next shard), decoded from the
   * shard's bytes batch by batch. Decoding a whole shard and splitting it made its ~4,000 lines at once, which
   * then lived on through the young generation's collections while they were consumed one by one (an
   * unchanged re-backup of 200,000 files reads its base's manifest this way). A newline byte is never part
   * of a UTF-8 sequence, so a line's bytes hold whole characters; one that spans two shards is joined first.
   */
  async *lineBatches(ids: string[], max = 256): AsyncGenerator<string[]> {
    let carry: Buffer | null = null;
    for await (const buf of this.readAll(ids)) {
      let batch: string[] = [];
      let pos = 0;
      let nl = buf.indexOf(10);
      if (carry) {
        if (nl < 0) {
          carry = Buffer.concat([carry, buf]);
          continue;
        }
        const line = Buffer.concat([carry, buf.subarray(0, nl)]).toString('utf8');
        carry = null;
        if (line) batch.push(line);
        pos = nl + 1;
        nl = buf.indexOf(10, pos);
      }
      for (; nl >= 0; pos = nl + 1, nl = buf.indexOf(10, pos)) {
        if (nl === pos) continue;
        batch.push(buf.toString('utf8', pos, nl));
        if (batch.length >= max) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length) yield batch;
      // A copy: the rest of the shard's buffer is not held for its last few bytes.
      if (pos < buf.length) carry = Buffer.from(buf.subarray(pos));
    }
    if (carry?.length) yield [carry.toString('utf8')];
  }
}
