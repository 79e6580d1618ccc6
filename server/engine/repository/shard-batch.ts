/**
 * Catalog work of a running backup, batched: dedup look-ups and new-shard records are gathered for a few
 * milliseconds and sent as one statement each. Per-shard statements made the catalog (and its commit
 * fsyncs) the bottleneck of the pipeline; batches cut the statements by one to two orders of magnitude.
 *
 * A shard's record is still written only after all its replicas are stored, and `flush()` is awaited
 * before the backup is marked completed, so the write-ordering invariants are unchanged.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { EngineContext } from '../context';
import { UNVERIFIED } from './content-check';
import { plaintextAllowed } from './repo-trust';

/** A shard a backup wrote or found: its id, sizes, and whether this backup stored it. */
export interface StoredShard {
  id: string;
  plainSize: number;
  storedSize: number;
  isNew: boolean;
}

export interface ShardRecordInput {
  id: string;
  contentId: string;
  securityLevel: string;
  keyId: string;
  plainSize: number;
  storedSize: number;
  checksum: string;
  compression: string;
  kind: string;
  /** The object is encrypted (its cipher is not `none`). */
  encrypted: boolean;
  locations: string[];
  /** Erasure-coded: the coding, and which piece each of `locations` holds (same order). */
  coding?: { k: number; m: number; pieces: number[] };
}

interface Waiter<T, R> {
  item: T;
  resolve: (r: R) => void;
  reject: (e: unknown) => void;
}

class Batcher<T, R> {
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

export class ShardBatch {
  private readonly lookups: Batcher<string, StoredShard | null>;
  private readonly records: Batcher<ShardRecordInput, void>;
  private readonly refs: Batcher<string, StoredShard | null>;

  constructor(
    private readonly ctx: EngineContext,
    private readonly backupId: string,
    private readonly level: string,
    /** This backup encrypts: it may reuse only shards known to be encrypted (see reusable()). */
    private readonly encrypting = true,
  ) {
    this.lookups = new Batcher(64, 2, (ids) => this.lookupMany(ids));
    this.records = new Batcher(64, 50, (rows) => this.recordMany(rows));
    this.refs = new Batcher(256, 5, (ids) => this.referenceMany(ids));
  }

  /**
   * References an existing shard by id (incremental backups reuse a base backup's shards); null if gone, or
   * if it was imported from storage and its content not yet checked (verify --read-data checks it).
   */
  reference(shardId: string): Promise<StoredShard | null> {
    return this.refs.add(shardId);
  }

  /** Finds a complete shard with this content and records the backup's reference to it. */
  lookup(contentId: string): Promise<StoredShard | null> {
    return this.lookups.add(contentId);
  }

  /** Records a shard whose replicas are all stored, with the backup's reference. */
  record(row: ShardRecordInput): Promise<void> {
    return this.records.add(row);
  }

  async flush(): Promise<void> {
    await this.refs.flush();
    await this.lookups.flush();
    await this.records.flush();
  }

  /**
   * One statement: pick one good shard per content id (never one imported from storage whose content was not
   * checked: see content-check.ts), clear its GC mark (locking the row), and add the
   * backup's references. GC locks rows before it re-checks references, so the two can never cross.
   */
  private rule: Promise<SQL> | null = null;

  /**
   * An encrypting backup never reuses a plaintext shard (written while enable_encryption was off): only rows
   * recorded as encrypted, or — in a repository that never allowed plaintext — rows from before the column.
   */
  private reusable(): Promise<SQL> {
    if (!this.encrypting) return Promise.resolve(sql``);
    return (this.rule ??= plaintextAllowed(this.ctx).then((plain) => (plain ? sql`AND s.encrypted IS TRUE` : sql`AND s.encrypted IS NOT FALSE`)));
  }

  private async lookupMany(contentIds: string[]): Promise<(StoredShard | null)[]> {
    const list = sql.join([...new Set(contentIds)].map((c) => sql`${c}`), sql`, `);
    const rows = await this.ctx.db.execute<{ id: string; content_id: string; plain_size: number; stored_size: number }>(sql`
      WITH cand AS (
        SELECT DISTINCT ON (s.content_id) s.id
        FROM shards s
        WHERE s.content_id IN (${list}) AND s.security_level = ${this.level} AND s.checksum <> ${UNVERIFIED} ${await this.reusable()}
          AND EXISTS (SELECT 1 FROM shard_replicas r WHERE r.shard_id = s.id AND r.state = 'ok')
        ORDER BY s.content_id, s.created_at
      ), hit AS (
        UPDATE shards SET gc_marked_at = NULL FROM cand WHERE shards.id = cand.id
        RETURNING shards.id, shards.content_id, shards.plain_size, shards.stored_size
      ), ref AS (
        INSERT INTO backup_shards (backup_id, shard_id) SELECT ${this.backupId}, id FROM hit ON CONFLICT DO NOTHING
      )
      SELECT id, content_id, plain_size, stored_size FROM hit`);
    const by = new Map(rows.rows.map((r) => [r.content_id, r]));
    return contentIds.map((c) => {
      const r = by.get(c);
      return r ? { id: r.id, plainSize: Number(r.plain_size), storedSize: Number(r.stored_size), isNew: false } : null;
    });
  }

  private async referenceMany(ids: string[]): Promise<(StoredShard | null)[]> {
    const list = sql.join([...new Set(ids)].map((c) => sql`${c}`), sql`, `);
    const rows = await this.ctx.db.execute<{ id: string; plain_size: number; stored_size: number }>(sql`
      WITH hit AS (
        UPDATE shards s SET gc_marked_at = NULL WHERE s.id IN (${list}) AND s.checksum <> ${UNVERIFIED} ${await this.reusable()}
        RETURNING id, plain_size, stored_size
      ), ref AS (
        INSERT INTO backup_shards (backup_id, shard_id) SELECT ${this.backupId}, id FROM hit ON CONFLICT DO NOTHING
      )
      SELECT id, plain_size, stored_size FROM hit`);
    const by = new Map(rows.rows.map((r) => [r.id, r]));
    return ids.map((id) => {
      const r = by.get(id);
      return r ? { id, plainSize: Number(r.plain_size), storedSize: Number(r.stored_size), isNew: false } : null;
    });
  }

  private async recordMany(rows: ShardRecordInput[]): Promise<void[]> {
    const shardValues = sql.join(
      rows.map((r) => sql`(${r.id}, ${r.contentId}, ${r.securityLevel}, ${r.keyId}, ${r.plainSize}, ${r.storedSize}, ${r.checksum}, ${r.compression}, ${r.kind}, ${r.encrypted}, ${r.coding?.k ?? null}::int, ${r.coding?.m ?? null}::int)`),
      sql`, `,
    );
    const replicaValues = sql.join(
      rows.flatMap((r) => r.locations.map((l, i) => sql`(${r.id}, ${l}, 'ok', now(), ${r.coding?.pieces[i] ?? null}::int)`)),
      sql`, `,
    );
    await this.ctx.db.execute(sql`
      WITH s AS (
        INSERT INTO shards (id, content_id, security_level, key_id, plain_size, stored_size, checksum, compression, kind, encrypted, ec_data, ec_parity)
        VALUES ${shardValues} RETURNING id
      ), r AS (
        INSERT INTO shard_replicas (shard_id, location, state, checked_at, piece) VALUES ${replicaValues}
      )
      INSERT INTO backup_shards (backup_id, shard_id) SELECT ${this.backupId}, id FROM s ON CONFLICT DO NOTHING`);
    return rows.map(() => undefined);
  }
}
