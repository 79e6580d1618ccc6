/** Catalog rows ↔ the engine's public shapes, and the small queries several operations share. */
import { eq, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../../db/client';
import { backups, dataKeys, shardReplicas, shards } from '../../../db/schema';
import type { WrappedKey } from '../keys/keys';
import type { BackupMetadata, BackupStatus, BackupType, SecurityLevel } from '../types';

export type BackupRow = typeof backups.$inferSelect;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function toMetadata(r: BackupRow): BackupMetadata {
  return {
    backup_id: r.id,
    status: r.status as BackupStatus,
    backup_type: r.backupType as BackupType,
    security_level: r.securityLevel as SecurityLevel,
    user_id: r.userId,
    tags: r.tags,
    retention_days: r.retentionDays,
    priority: r.priority,
    metadata: r.metadata,
    sources: r.sources,
    original_size: r.originalSize,
    stored_size: r.storedSize,
    new_bytes: r.newBytes,
    file_count: r.fileCount,
    shard_count: r.shardCount,
    new_shard_count: r.newShardCount,
    compression_ratio: r.compressionRatio,
    dedup_ratio: r.dedupRatio,
    duration_seconds: r.durationMs / 1000,
    throughput_mbps: r.throughputMbps,
    error: r.error,
    created_at: r.createdAt.toISOString(),
    started_at: iso(r.startedAt),
    completed_at: iso(r.completedAt),
    expires_at: iso(r.expiresAt),
    suspicious: r.suspicious,
    suspicious_acknowledged_at: iso(r.suspiciousAcknowledgedAt),
    suspicious_acknowledged_by: r.suspiciousAcknowledgedBy,
    change_summary: r.changeSummary,
  };
}

export interface ShardRecord {
  id: string;
  contentId: string;
  checksum: string;
  plainSize: number;
  storedSize: number;
  compression: string;
  kind: string;
  keyId: string;
  /** Erasure coding (k data + m parity pieces, one per replica); null = every replica is a whole copy. */
  coding: { k: number; m: number } | null;
  /** Where the shard is: whole copies (piece null) or, for a coded shard, which piece each location holds. */
  replicas: { location: string; state: string; piece: number | null }[];
}

type ShardRow = {
  id: string;
  content_id: string;
  checksum: string;
  plain_size: number;
  stored_size: number;
  compression: string;
  kind: string;
  key_id: string;
  ec_data: number | null;
  ec_parity: number | null;
  replicas: { location: string; state: string; piece: number | null }[] | null;
};

/** Shards matching `where` (a condition on `s`), each with its replicas. */
async function selectShards(db: Db, where: SQL): Promise<ShardRecord[]> {
  const rows = await db.execute<ShardRow>(sql`
    SELECT s.id, s.content_id, s.checksum, s.plain_size, s.stored_size, s.compression, s.kind, s.key_id, s.ec_data, s.ec_parity,
      (SELECT json_agg(json_build_object('location', r.location, 'state', r.state, 'piece', r.piece) ORDER BY r.location)
         FROM ${shardReplicas} r WHERE r.shard_id = s.id) AS replicas
    FROM ${shards} s WHERE ${where} ORDER BY s.id`);
  return rows.rows.map((r) => ({
    id: r.id,
    contentId: r.content_id,
    checksum: r.checksum,
    plainSize: Number(r.plain_size),
    storedSize: Number(r.stored_size),
    compression: r.compression,
    kind: r.kind,
    keyId: r.key_id,
    coding: r.ec_data && r.ec_parity ? { k: Number(r.ec_data), m: Number(r.ec_parity) } : null,
    replicas: r.replicas ?? [],
  }));
}

/** Every shard a backup references, with its replicas. */
export function backupShardRecords(db: Db, backupId: string): Promise<ShardRecord[]> {
  return selectShards(db, sql`s.id IN (SELECT shard_id FROM backup_shards WHERE backup_id = ${backupId})`);
}

export async function shardRecordsByIds(db: Db, ids: string[]): Promise<Map<string, ShardRecord>> {
  const out = new Map<string, ShardRecord>();
  for (let i = 0; i < ids.length; i += 500) {
    const part = sql.join(ids.slice(i, i + 500).map((p) => sql`${p}`), sql`, `);
    for (const rec of await selectShards(db, sql`s.id IN (${part})`)) out.set(rec.id, rec);
  }
  return out;
}

export async function loadWrappedKey(db: Db, keyId: string): Promise<WrappedKey | null> {
  const [k] = await db.select().from(dataKeys).where(eq(dataKeys.id, keyId));
  if (!k) return null;
  return { id: k.id, securityLevel: k.securityLevel as WrappedKey['securityLevel'], algorithm: k.algorithm as WrappedKey['algorithm'], wrapped: k.wrappedKey, kekId: k.kekId };
}

export async function getBackupRow(db: Db, id: string): Promise<BackupRow | undefined> {
  const [row] = await db.select().from(backups).where(eq(backups.id, id));
  return row;
}
