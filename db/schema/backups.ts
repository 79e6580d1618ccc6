import { sql } from 'drizzle-orm';
import { bigint, bigserial, boolean, index, integer, jsonb, pgTable, primaryKey, real, text, timestamp } from 'drizzle-orm/pg-core';

/** One backup run. `completed` is set only after every shard and the manifest are durably stored. */
export const backups = pgTable(
  'backups',
  {
    id: text('id').primaryKey(),
    status: text('status').notNull(), // pending | running | completed | failed
    backupType: text('backup_type').notNull(),
    securityLevel: text('security_level').notNull(),
    userId: text('user_id'),
    tags: jsonb('tags').$type<string[]>().notNull().default([]),
    retentionDays: integer('retention_days').notNull(),
    priority: integer('priority').notNull().default(5),
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    sources: jsonb('sources').$type<string[]>().notNull().default([]),
    keyId: text('key_id'),
    /** Shards of the manifest: the entry stream and the chunk table (see docs/repository-format.md). */
    manifestShards: jsonb('manifest_shards').$type<{ files: string[]; chunks: string[] }>().notNull().default({ files: [], chunks: [] }),
    originalSize: bigint('original_size', { mode: 'number' }).notNull().default(0),
    storedSize: bigint('stored_size', { mode: 'number' }).notNull().default(0),
    newBytes: bigint('new_bytes', { mode: 'number' }).notNull().default(0),
    fileCount: integer('file_count').notNull().default(0),
    shardCount: integer('shard_count').notNull().default(0),
    newShardCount: integer('new_shard_count').notNull().default(0),
    compressionRatio: real('compression_ratio').notNull().default(1),
    dedupRatio: real('dedup_ratio').notNull().default(1),
    durationMs: integer('duration_ms').notNull().default(0),
    throughputMbps: real('throughput_mbps').notNull().default(0),
    progress: jsonb('progress').$type<Record<string, unknown>>(),
    error: text('error'),
    ownerPid: integer('owner_pid'),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    completedAt: timestamp('completed_at', { withTimezone: true }),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    /** What changed against the previous backup of the same sources (server/engine/backup/change-summary.ts); null when nothing was compared. */
    changeSummary: jsonb('change_summary').$type<Record<string, unknown>>(),
    /** The change looked like mass encryption: a suspicious_change alert was raised and retention protects the last good backup before it. */
    suspicious: boolean('suspicious').notNull().default(false),
    suspiciousAcknowledgedAt: timestamp('suspicious_acknowledged_at', { withTimezone: true }),
    suspiciousAcknowledgedBy: text('suspicious_acknowledged_by'),
  },
  (t) => [
    index('backups_status_idx').on(t.status),
    // The lists' order (newest first, id breaking ties): a page is read from the index, never a sort of every row.
    index('backups_created_id_idx').on(t.createdAt, t.id),
    // Collapsing continuous backups: "is there a newer one of the same sources?" is an index probe.
    index('backups_continuous_idx').on(t.sources, t.createdAt).where(sql`${t.backupType} = 'continuous'`),
  ],
);

/**
 * A stored shard object. Its row is inserted only after every replica is durably written, so a row always
 * means "complete data"; dedup finds shards by content id (a keyed hash of the plaintext: ids reveal nothing).
 */
export const shards = pgTable(
  'shards',
  {
    /** Object name: content id + a per-write suffix, so two writers never share a name. */
    id: text('id').primaryKey(),
    contentId: text('content_id').notNull(),
    securityLevel: text('security_level').notNull(),
    keyId: text('key_id').notNull(),
    plainSize: integer('plain_size').notNull(),
    storedSize: integer('stored_size').notNull(),
    checksum: text('checksum').notNull(), // SHA-256 of the stored bytes, verifiable without any key
    compression: text('compression').notNull(),
    kind: text('kind').notNull().default('data'), // data | manifest
    /** Whether the stored object is encrypted; null for rows written before it was recorded or imported unchecked. */
    encrypted: boolean('encrypted'),
    /** Erasure coding (docs/repository-format.md): k data + m parity pieces, one per replica row; null = whole copies. */
    ecData: integer('ec_data'),
    ecParity: integer('ec_parity'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    /** Set by garbage collection when nothing references the shard; cleared by any backup that reuses it. */
    gcMarkedAt: timestamp('gc_marked_at', { withTimezone: true }),
  },
  (t) => [index('shards_content_idx').on(t.contentId), index('shards_created_idx').on(t.createdAt)],
);

export const shardReplicas = pgTable(
  'shard_replicas',
  {
    shardId: text('shard_id').notNull().references(() => shards.id, { onDelete: 'cascade' }),
    location: text('location').notNull(),
    state: text('state').notNull().default('ok'), // ok | bad | missing
    /** Which piece of an erasure-coded shard this location holds (0..k+m-1); null = a whole copy. */
    piece: integer('piece'),
    checkedAt: timestamp('checked_at', { withTimezone: true }),
  },
  (t) => [primaryKey({ columns: [t.shardId, t.location] }), index('shard_replicas_location_idx').on(t.location)],
);

/** Which shards a backup references (data and manifest). Drives verify, delete and garbage collection. */
export const backupShards = pgTable(
  'backup_shards',
  {
    backupId: text('backup_id').notNull().references(() => backups.id, { onDelete: 'cascade' }),
    shardId: text('shard_id').notNull(),
  },
  (t) => [primaryKey({ columns: [t.backupId, t.shardId] }), index('backup_shards_shard_idx').on(t.shardId)],
);

/**
 * Shard and storage totals kept up to date by triggers on shards and shard_replicas (migration 0011): each
 * statement that adds or removes rows appends one row per location it touched (and one with a null location
 * for all shards), so the totals are one small sum instead of a join over every shard and replica, and no
 * two writers ever update the same row. server/engine/catalog/usage-totals.ts reads them and folds the rows together.
 */
export const usageDeltas = pgTable('usage_deltas', {
  id: bigserial('id', { mode: 'number' }).primaryKey(),
  /** A storage location (its replicas), or null: the shards themselves, wherever they are. */
  location: text('location'),
  objects: bigint('objects', { mode: 'number' }).notNull(),
  bytes: bigint('bytes', { mode: 'number' }).notNull(),
});
