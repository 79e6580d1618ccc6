/**
 * The catalog's shard index (shard-index.ts). A backup's look-ups, references and new-shard records are
 * gathered for a few milliseconds and sent as one statement each: per-shard statements made the catalog
 * (and its commit fsyncs) the bottleneck of the pipeline; batches cut the statements by one to two orders
 * of magnitude.
 */
import { type SQL, and, eq, sql } from 'drizzle-orm';
import type { Pool, QueryResultRow } from 'pg';
import type { Db } from '../../../db/client';
import { shardReplicas } from '../../../db/schema';
import { backupShardRecords, shardRecordsByIds } from '../catalog/catalog';
import { Batcher } from './batcher';
import { type CheckedShard, UNVERIFIED } from './content-check';
import type { CatalogTx, GoneShard, ImportedShard, ListedCopy, ObjectMeta, ReplicaState, ShardIndex, ShardIndexSession, ShardRecord, ShardRecordInput, ShardTally, StoredShard, UnreferencedScope } from './shard-index';

const unreferenced = sql`NOT EXISTS (SELECT 1 FROM backup_shards b WHERE b.shard_id = s.id)`;
const markedBy = (at: Date) => sql`s.gc_marked_at IS NOT NULL AND s.gc_marked_at <= ${at.toISOString()}::timestamptz`;
/** Listed copies per statement (one JSON parameter each). */
const LISTED_PER_STATEMENT = 10_000;
const list = (ids: string[]) => sql.join(ids.map((id) => sql`${id}`), sql`, `);

/**
 * A statement of a backup's hot path (look-up, reference, record of new shards), prepared once per catalog
 * connection under `name` and then only bound: its text never changes (arrays, not lists of parameters), so
 * the catalog parses and plans it once instead of for every batch. On the embedded catalog that was 1-2 ms of
 * its CPU per statement (db/statement-names.ts keeps each connection's names apart in its one session).
 */
async function prepared<R>(db: Db, name: string, text: string, values: unknown[]): Promise<R[]> {
  const pool = (db as Db & { $client?: Pool }).$client;
  if (!pool) throw new Error(`prepared statement ${name}: the catalog handle has no pg pool`);
  return (await pool.query<R & QueryResultRow>({ name, text, values })).rows;
}

export class PgShardIndex implements ShardIndex {
  constructor(
    private readonly db: Db,
    /** Whether the repository may hold unencrypted objects (repo-trust.ts plaintextAllowed). */
    private readonly plaintextAllowed: () => Promise<boolean>,
  ) {}

  session(backupId: string, level: string, encrypting: boolean): ShardIndexSession {
    return new PgShardSession(this.db, this.plaintextAllowed, backupId, level, encrypting);
  }

  records(ids: string[]): Promise<Map<string, ShardRecord>> {
    return shardRecordsByIds(this.db, ids);
  }

  backupRecords(backupId: string): Promise<ShardRecord[]> {
    return backupShardRecords(this.db, backupId);
  }

  async backupShardIds(backupId: string): Promise<string[]> {
    const rows = await this.db.execute<{ shard_id: string }>(sql`SELECT shard_id FROM backup_shards WHERE backup_id = ${backupId}`);
    return rows.rows.map((r) => r.shard_id);
  }

  async recordChecked(shardId: string, c: Pick<CheckedShard, 'checksum' | 'plainSize' | 'keyId' | 'compression'>): Promise<void> {
    await this.db.execute(sql`UPDATE shards SET checksum = ${c.checksum}, plain_size = ${c.plainSize}, key_id = ${c.keyId}, compression = ${c.compression}
      WHERE id = ${shardId} AND checksum = ${UNVERIFIED}`);
  }

  async markReplica(shardId: string, location: string, state: ReplicaState, at: Date): Promise<void> {
    await this.db
      .update(shardReplicas)
      .set({ state, checkedAt: at })
      .where(and(eq(shardReplicas.shardId, shardId), eq(shardReplicas.location, location)));
  }

  async addReplica(shardId: string, location: string, at: Date, opts: { piece?: number; replaces?: string | null } = {}): Promise<void> {
    const { piece, replaces } = opts;
    const set = piece === undefined ? { state: 'ok', checkedAt: at } : { state: 'ok', piece, checkedAt: at };
    const upsert = (db: Pick<Db, 'insert'>) =>
      db
        .insert(shardReplicas)
        .values({ shardId, location, state: 'ok', piece: piece ?? null, checkedAt: at })
        .onConflictDoUpdate({ target: [shardReplicas.shardId, shardReplicas.location], set });
    if (!replaces) {
      await upsert(this.db);
      return;
    }
    await this.db.transaction(async (tx) => {
      await tx.delete(shardReplicas).where(and(eq(shardReplicas.shardId, shardId), eq(shardReplicas.location, replaces)));
      await upsert(tx);
    });
  }

  async removeReplica(shardId: string, location: string): Promise<void> {
    await this.db.delete(shardReplicas).where(and(eq(shardReplicas.shardId, shardId), eq(shardReplicas.location, location)));
  }

  async allShardIds(): Promise<string[]> {
    return (await this.db.execute<{ id: string }>(sql`SELECT id FROM shards ORDER BY id`)).rows.map((r) => r.id);
  }

  async largestAt(location: string, offset: number, limit: number): Promise<string[]> {
    const page = await this.db.execute<{ id: string }>(sql`
      SELECT s.id FROM shards s JOIN shard_replicas r ON r.shard_id = s.id AND r.location = ${location}
      ORDER BY s.stored_size DESC, s.id LIMIT ${limit} OFFSET ${offset}`);
    return page.rows.map((r) => r.id);
  }

  async sameContent(contentId: string, exceptId: string): Promise<ShardRecord[]> {
    const rows = await this.db.execute<{ id: string }>(sql`SELECT id FROM shards WHERE content_id = ${contentId} AND id <> ${exceptId}`);
    return [...(await shardRecordsByIds(this.db, rows.rows.map((r) => r.id))).values()];
  }

  async replaceObject(shardId: string, m: ObjectMeta): Promise<void> {
    await this.db.execute(sql`UPDATE shards SET checksum = ${m.checksum}, key_id = ${m.keyId}, compression = ${m.compression}, stored_size = ${m.storedSize}, encrypted = ${m.encrypted} WHERE id = ${shardId}`);
  }

  async importShards(backupId: string, level: string, shards: ImportedShard[], tx?: CatalogTx): Promise<{ inserted: number; unverified: number }> {
    if (!shards.length) return { inserted: 0, unverified: 0 };
    const db = tx ?? this.db;
    // Few, large statements: each takes its rows as one JSON parameter (no limit of 65535 parameters, and
    // the single-threaded catalog server parses one value instead of thousands).
    const shardRows = shards.map((r) => ({ id: r.id, cid: r.contentId, key: r.keyId, plain: r.plainSize, size: r.storedSize, sum: r.checksum, comp: r.compression, kind: r.kind, k: r.coding?.k ?? null, m: r.coding?.m ?? null }));
    // A shard imported unverified by an earlier backup is completed when this one checked it.
    const res = await db.execute<{ inserted: number; unverified: number }>(sql`
      WITH ins AS (
        INSERT INTO shards (id, content_id, security_level, key_id, plain_size, stored_size, checksum, compression, kind, ec_data, ec_parity)
        SELECT x.id, x.cid, ${level}, x.key, x.plain, x.size, x.sum, x.comp, x.kind, x.k, x.m
        FROM jsonb_to_recordset(${JSON.stringify(shardRows)}::jsonb) AS x(id text, cid text, key text, plain integer, size integer, sum text, comp text, kind text, k integer, m integer)
        ON CONFLICT (id) DO UPDATE SET key_id = EXCLUDED.key_id, plain_size = EXCLUDED.plain_size, stored_size = EXCLUDED.stored_size,
          checksum = EXCLUDED.checksum, compression = EXCLUDED.compression, kind = EXCLUDED.kind
          WHERE shards.checksum = ${UNVERIFIED} AND EXCLUDED.checksum <> ${UNVERIFIED}
        RETURNING (xmax = 0) AS inserted, checksum)
      SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE inserted AND checksum = ${UNVERIFIED})::int AS unverified FROM ins`);
    const reps = shards.flatMap((r) => r.replicas.map((c) => ({ id: r.id, loc: c.location, state: c.state, piece: c.piece })));
    await db.execute(sql`
      INSERT INTO shard_replicas (shard_id, location, state, piece)
      SELECT x.id, x.loc, x.state, x.piece FROM jsonb_to_recordset(${JSON.stringify(reps)}::jsonb) AS x(id text, loc text, state text, piece integer)
      ON CONFLICT DO NOTHING`);
    // The mark is cleared (locking the row) as a session's reference clears it: gc locks rows before it re-checks references.
    await db.execute(sql`
      WITH ids AS (SELECT x.id FROM jsonb_array_elements_text(${JSON.stringify(shards.map((r) => r.id))}::jsonb) AS x(id)),
      unmark AS (UPDATE shards s SET gc_marked_at = NULL FROM ids WHERE s.id = ids.id AND s.gc_marked_at IS NOT NULL)
      INSERT INTO backup_shards (backup_id, shard_id) SELECT ${backupId}, id FROM ids ON CONFLICT DO NOTHING`);
    return { inserted: Number(res.rows[0]?.inserted ?? 0), unverified: Number(res.rows[0]?.unverified ?? 0) };
  }

  async addListedCopies(copies: ListedCopy[]): Promise<void> {
    for (let i = 0; i < copies.length; i += LISTED_PER_STATEMENT) {
      const rows = copies.slice(i, i + LISTED_PER_STATEMENT).map((c) => ({ id: c.shardId, loc: c.location, piece: c.piece }));
      await this.db.execute(sql`
        INSERT INTO shard_replicas (shard_id, location, state, piece)
        SELECT v.id, v.loc, 'ok', v.piece FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) AS v(id text, loc text, piece integer)
        WHERE EXISTS (SELECT 1 FROM shards s WHERE s.id = v.id)
        ON CONFLICT DO NOTHING`);
    }
  }

  async markUnreferenced(at: Date): Promise<void> {
    await this.db.execute(sql`UPDATE shards s SET gc_marked_at = ${at.toISOString()}::timestamptz WHERE s.gc_marked_at IS NULL AND ${unreferenced}`);
  }

  async tallyUnreferenced(scope: UnreferencedScope): Promise<ShardTally> {
    let where: SQL = sql`TRUE`;
    if (scope.markedBy) where = scope.orUnmarked ? sql`(s.gc_marked_at IS NULL OR s.gc_marked_at <= ${scope.markedBy.toISOString()}::timestamptz)` : markedBy(scope.markedBy);
    if (scope.except) where = sql`${where} AND NOT (${markedBy(scope.except)})`;
    const rows = await this.db.execute<{ shards: number; objects: number; bytes: number }>(sql`
      SELECT count(*) AS shards, COALESCE(sum(x.replicas), 0) AS objects, COALESCE(sum(x.replicas * x.stored_size), 0) AS bytes
      FROM (SELECT s.stored_size, (SELECT count(*) FROM shard_replicas r WHERE r.shard_id = s.id) AS replicas FROM shards s WHERE ${where} AND ${unreferenced}) x`);
    const r = rows.rows[0];
    return { shards: Number(r?.shards ?? 0), objects: Number(r?.objects ?? 0), bytes: Number(r?.bytes ?? 0) };
  }

  async markedPage(at: Date, after: string, limit: number): Promise<{ id: string; replicas: number; storedSize: number }[]> {
    const page = await this.db.execute<{ id: string; replicas: number; stored_size: number }>(sql`
      SELECT s.id, s.stored_size, (SELECT count(*) FROM shard_replicas r WHERE r.shard_id = s.id) AS replicas
      FROM shards s WHERE ${markedBy(at)} AND ${unreferenced} AND s.id > ${after}
      ORDER BY s.id LIMIT ${limit}`);
    return page.rows.map((r) => ({ id: r.id, replicas: Number(r.replicas), storedSize: Number(r.stored_size) }));
  }

  async deleteUnreferenced(ids: string[], marked: Date | null, afterLock?: (ids: string[]) => Promise<void>): Promise<GoneShard[]> {
    if (!ids.length) return [];
    const still: SQL = marked ? sql`AND ${markedBy(marked)}` : sql``;
    return this.db.transaction(async (tx) => {
      await tx.execute(sql`SELECT id FROM shards WHERE id IN (${list(ids)}) ORDER BY id FOR UPDATE`);
      await afterLock?.(ids);
      const rows = await tx.execute<{ id: string; locations: string[] | null; pieces: (number | null)[] | null; stored_size: number; ec_data: number | null; ec_parity: number | null }>(sql`
        WITH dead AS (
          SELECT s.id FROM shards s WHERE s.id IN (${list(ids)}) AND ${unreferenced} ${still}
        ), locs AS (
          SELECT r.shard_id, array_agg(r.location ORDER BY r.location) AS locations, array_agg(r.piece ORDER BY r.location) AS pieces FROM shard_replicas r WHERE r.shard_id IN (SELECT id FROM dead) GROUP BY r.shard_id
        )
        DELETE FROM shards s USING dead LEFT JOIN locs ON locs.shard_id = dead.id
        WHERE s.id = dead.id RETURNING s.id, locs.locations, locs.pieces, s.stored_size, s.ec_data, s.ec_parity`);
      return rows.rows.map((r) => ({ id: r.id, storedSize: Number(r.stored_size), locations: r.locations ?? [], pieces: r.pieces ?? [], coding: r.ec_data && r.ec_parity ? { k: Number(r.ec_data), m: Number(r.ec_parity) } : null }));
    });
  }
}

class PgShardSession implements ShardIndexSession {
  private readonly lookups: Batcher<string, StoredShard | null>;
  private readonly records: Batcher<ShardRecordInput, void>;
  private readonly refs: Batcher<string, StoredShard | null>;
  private rule: Promise<{ name: string; sql: string }> | null = null;
  /** The last lookup found nothing: new data comes in runs, so the next one asks the cheap probe first. */
  private lastMissed = false;

  constructor(
    private readonly db: Db,
    private readonly plaintextAllowed: () => Promise<boolean>,
    private readonly backupId: string,
    private readonly level: string,
    private readonly encrypting: boolean,
  ) {
    this.lookups = new Batcher(64, 10, (ids) => this.lookupMany(ids));
    // Records are not waited for until the backup drains, and each statement costs ~2.5 ms of the catalog's
    // time besides its rows (a 1 GiB backup of new data: 98 statements and 474 ms of catalog time at 64 rows /
    // 50 ms, 24 and 302 ms at 256 / 250).
    this.records = new Batcher(256, 250, (rows) => this.recordMany(rows));
    this.refs = new Batcher(256, 5, (ids) => this.referenceMany(ids));
  }

  reference(shardId: string): Promise<StoredShard | null> {
    return this.refs.add(shardId);
  }

  lookup(contentId: string): Promise<StoredShard | null> {
    return this.lookups.add(contentId);
  }

  record(row: ShardRecordInput): Promise<void> {
    return this.records.add(row);
  }

  async flush(): Promise<void> {
    await this.refs.flush();
    await this.lookups.flush();
    await this.records.flush();
  }

  /**
   * An encrypting backup never reuses a plaintext shard (written while enable_encryption was off): only rows
   * recorded as encrypted, or — in a repository that never allowed plaintext — rows from before the column.
   * Returns the condition and a name for it (each variant is its own prepared statement).
   */
  private reusable(): Promise<{ name: string; sql: string }> {
    if (!this.encrypting) return Promise.resolve({ name: 'any', sql: '' });
    return (this.rule ??= this.plaintextAllowed().then((plain) => (plain ? { name: 'enc', sql: 'AND s.encrypted IS TRUE' } : { name: 'notplain', sql: 'AND s.encrypted IS NOT FALSE' })));
  }

  /**
   * One statement: pick one good shard per content id (never one imported from storage whose content was not
   * checked: see content-check.ts), clear its GC mark (locking the row), and add the
   * backup's references. GC locks rows before it re-checks references, so the two can never cross.
   */
  private async lookupMany(contentIds: string[]): Promise<(StoredShard | null)[]> {
    let wanted = [...new Set(contentIds)];
    if (this.lastMissed) {
      // Which of them have any shard at this level: a plain read of the content-id index, cheaper than the
      // statement below in the embedded catalog (1.1 against 1.5 ms; new data makes ~300 lookups per GiB). New
      // data finds none and stops here; the statement below, which takes and references the shards (and checks
      // them), runs for the ids found only. A hit in the probe that the statement then refuses is a miss.
      const found = await prepared<{ content_id: string }>(
        this.db,
        'plexichat_shard_probe',
        'SELECT DISTINCT content_id FROM shards WHERE content_id = ANY($1::text[]) AND security_level = $2',
        [wanted, this.level],
      );
      if (!found.length) return contentIds.map(() => null);
      wanted = found.map((r) => r.content_id);
    }
    const rule = await this.reusable();
    const rows = await prepared<{ id: string; content_id: string; plain_size: number; stored_size: number }>(
      this.db,
      `plexichat_shard_lookup_${rule.name}`,
      `WITH cand AS (
        SELECT DISTINCT ON (s.content_id) s.id
        FROM shards s
        WHERE s.content_id = ANY($1::text[]) AND s.security_level = $2 AND s.checksum <> $3 ${rule.sql}
          AND EXISTS (SELECT 1 FROM shard_replicas r WHERE r.shard_id = s.id AND r.state = 'ok')
        ORDER BY s.content_id, s.created_at
      ), hit AS (
        UPDATE shards SET gc_marked_at = NULL FROM cand WHERE shards.id = cand.id
        RETURNING shards.id, shards.content_id, shards.plain_size, shards.stored_size
      ), ref AS (
        INSERT INTO backup_shards (backup_id, shard_id) SELECT $4, id FROM hit ON CONFLICT DO NOTHING
      )
      SELECT id, content_id, plain_size, stored_size FROM hit`,
      [wanted, this.level, UNVERIFIED, this.backupId],
    );
    const by = new Map(rows.map((r) => [r.content_id, r]));
    this.lastMissed = rows.length === 0;
    return contentIds.map((c) => {
      const r = by.get(c);
      return r ? { id: r.id, plainSize: Number(r.plain_size), storedSize: Number(r.stored_size), isNew: false } : null;
    });
  }

  private async referenceMany(ids: string[]): Promise<(StoredShard | null)[]> {
    const rule = await this.reusable();
    const rows = await prepared<{ id: string; plain_size: number; stored_size: number }>(
      this.db,
      `plexichat_shard_reference_${rule.name}`,
      `WITH hit AS (
        UPDATE shards s SET gc_marked_at = NULL WHERE s.id = ANY($1::text[]) AND s.checksum <> $2 ${rule.sql}
        RETURNING id, plain_size, stored_size
      ), ref AS (
        INSERT INTO backup_shards (backup_id, shard_id) SELECT $3, id FROM hit ON CONFLICT DO NOTHING
      )
      SELECT id, plain_size, stored_size FROM hit`,
      [[...new Set(ids)], UNVERIFIED, this.backupId],
    );
    const by = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => {
      const r = by.get(id);
      return r ? { id, plainSize: Number(r.plain_size), storedSize: Number(r.stored_size), isNew: false } : null;
    });
  }

  private async recordMany(rows: ShardRecordInput[]): Promise<void[]> {
    const col = <T>(f: (r: ShardRecordInput) => T) => rows.map(f);
    const copies = rows.flatMap((r) => r.locations.map((l, i) => ({ id: r.id, location: l, piece: r.coding?.pieces[i] ?? null })));
    await prepared(
      this.db,
      'plexichat_shard_record',
      `WITH s AS (
        INSERT INTO shards (id, content_id, security_level, key_id, plain_size, stored_size, checksum, compression, kind, encrypted, ec_data, ec_parity)
        SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::int[], $7::text[], $8::text[], $9::text[], $10::boolean[], $11::int[], $12::int[])
        RETURNING id
      ), r AS (
        INSERT INTO shard_replicas (shard_id, location, state, checked_at, piece)
        SELECT c.shard_id, c.location, 'ok', now(), c.piece FROM unnest($13::text[], $14::text[], $15::int[]) AS c(shard_id, location, piece)
      )
      INSERT INTO backup_shards (backup_id, shard_id) SELECT $16, id FROM s ON CONFLICT DO NOTHING`,
      [
        col((r) => r.id),
        col((r) => r.contentId),
        col((r) => r.securityLevel),
        col((r) => r.keyId),
        col((r) => r.plainSize),
        col((r) => r.storedSize),
        col((r) => r.checksum),
        col((r) => r.compression),
        col((r) => r.kind),
        col((r) => r.encrypted),
        col((r) => r.coding?.k ?? null),
        col((r) => r.coding?.m ?? null),
        copies.map((c) => c.id),
        copies.map((c) => c.location),
        copies.map((c) => c.piece),
        this.backupId,
      ],
    );
    return rows.map(() => undefined);
  }
}
