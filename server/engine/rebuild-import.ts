/**
 * Importing one backup read back from storage (rebuild-snapshot.ts) into the catalog, in one transaction:
 * its row, its shards (checked ones in full; listed-only data shards as unverified, with the stored size the
 * listing gave), their replicas, its references, and — when a shard is missing or damaged — the verification
 * status verify would give it. A half-imported backup can therefore never be listed.
 */
import { sql } from 'drizzle-orm';
import { backups, backupVerifications } from '../../db/schema';
import { type CheckedShard, contentIdOf, UNVERIFIED } from './content-check';
import type { Copy } from './rebuild-listing';
import { type RebuildContext, type RebuiltBackup, checkCopies } from './rebuild-snapshot';
import { shardKey } from './repository';
import type { SecurityLevel } from './types';

export interface DamagedBackup {
  backup_id: string;
  status: 'degraded' | 'corrupted';
  /** Shards with no readable copy (their data is lost). */
  lost_shards: string[];
  /** Shards with fewer good copies than the replication factor. */
  under_replicated: string[];
  reason: string;
}

interface Row {
  id: string;
  kind: 'data' | 'manifest';
  checked: CheckedShard | null;
  good: Copy[];
  bad: { copy: Copy; reason: string }[];
}

interface Counters {
  backups: number;
  shards: number;
  unverified_shards: number;
  damaged_objects: string[];
  damaged_backups: DamagedBackup[];
}

export async function importBackup(rc: RebuildContext, b: RebuiltBackup, readData: boolean, report: Counters): Promise<void> {
  const { ctx } = rc;
  const { doc } = b;
  const level = doc.security_level as SecurityLevel;
  const rows: Row[] = [...b.manifest].map(([id, m]) => ({ id, kind: 'manifest', ...m }));
  for (const id of new Set(b.chunkIds ?? [])) {
    if (b.manifest.has(id)) continue;
    if (readData) rows.push({ id, kind: 'data', ...(await checkCopies(rc, id, level)) });
    else rows.push({ id, kind: 'data', checked: null, good: rc.listing.data.get(id) ?? [], bad: [] });
  }
  const R = ctx.config.replication_factor;
  const lost = rows.filter((r) => !r.good.length).map((r) => r.id).sort();
  const under = rows.filter((r) => r.good.length && (r.good.length < R || r.bad.length)).map((r) => r.id).sort();
  const damagedCopies = rows.flatMap((r) => r.bad.map((x) => `${x.copy.location}:${shardKey(r.id)} (${x.reason})`));
  const status = lost.length || !b.chunkIds ? 'corrupted' : under.length ? 'degraded' : 'healthy';
  const present = rows.filter((r) => r.good.length).sort((a, z) => a.id.localeCompare(z.id));

  const m = doc.metadata;
  const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
  const date = (v: unknown) => (typeof v === 'string' && !Number.isNaN(Date.parse(v)) ? new Date(v) : null);
  const strings = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const recovery = { status, lost_shards: lost.length, under_replicated: under.length, data_checked: readData, problems: b.problems.slice(0, 20) };
  let inserted = 0;
  let unverified = 0;
  const imported = await ctx.db.transaction(async (tx) => {
    const row = await tx
      .insert(backups)
      .values({
        id: doc.backup_id,
        status: 'completed',
        backupType: String(m.backup_type ?? 'full'),
        securityLevel: level,
        userId: typeof m.user_id === 'string' ? m.user_id : null,
        tags: strings(m.tags),
        retentionDays: num(m.retention_days) || 90,
        priority: num(m.priority) || 5,
        metadata: { ...(typeof m.metadata === 'object' && m.metadata ? (m.metadata as Record<string, unknown>) : {}), recovered_from_storage: true, recovery },
        sources: strings(m.sources),
        keyId: doc.key_id,
        manifestShards: { files: doc.files_shards, chunks: doc.chunks_shards },
        originalSize: num(m.original_size),
        storedSize: num(m.stored_size),
        newBytes: num(m.new_bytes),
        fileCount: num(m.file_count),
        shardCount: rows.length,
        createdAt: date(m.created_at) ?? ctx.now(),
        startedAt: date(m.started_at),
        completedAt: date(m.completed_at) ?? ctx.now(),
        expiresAt: date(m.expires_at),
      })
      .onConflictDoNothing()
      .returning({ id: backups.id });
    if (!row.length) return false;
    for (let i = 0; i < present.length; i += 500) {
      const part = present.slice(i, i + 500);
      const values = part.map((r) => {
        const c = r.checked;
        const size = c?.storedSize ?? r.good[0]!.size;
        return sql`(${r.id}, ${contentIdOf(r.id)}, ${level}, ${c?.keyId ?? ''}, ${c?.plainSize ?? 0}, ${size}, ${c?.checksum ?? UNVERIFIED}, ${c?.compression ?? 'unknown'}, ${r.kind})`;
      });
      // A shard imported unverified by an earlier backup is completed when this one checked it.
      const res = await tx.execute<{ inserted: boolean; checksum: string }>(sql`
        INSERT INTO shards (id, content_id, security_level, key_id, plain_size, stored_size, checksum, compression, kind)
        VALUES ${sql.join(values, sql`, `)}
        ON CONFLICT (id) DO UPDATE SET key_id = EXCLUDED.key_id, plain_size = EXCLUDED.plain_size, stored_size = EXCLUDED.stored_size,
          checksum = EXCLUDED.checksum, compression = EXCLUDED.compression, kind = EXCLUDED.kind
          WHERE shards.checksum = ${UNVERIFIED} AND EXCLUDED.checksum <> ${UNVERIFIED}
        RETURNING (xmax = 0) AS inserted, checksum`);
      for (const r of res.rows) {
        if (!r.inserted) continue;
        inserted++;
        if (r.checksum === UNVERIFIED) unverified++;
      }
      const reps = part.flatMap((r) => [...r.good.map((c) => sql`(${r.id}, ${c.location}, 'ok')`), ...r.bad.map((x) => sql`(${r.id}, ${x.copy.location}, 'bad')`)]);
      await tx.execute(sql`INSERT INTO shard_replicas (shard_id, location, state) VALUES ${sql.join(reps, sql`, `)} ON CONFLICT DO NOTHING`);
      await tx.execute(sql`INSERT INTO backup_shards (backup_id, shard_id) VALUES ${sql.join(part.map((r) => sql`(${doc.backup_id}, ${r.id})`), sql`, `)} ON CONFLICT DO NOTHING`);
    }
    if (status !== 'healthy' || readData) {
      const rec = { status, verifiedAt: ctx.now(), lostShards: lost.length, badShards: under.length };
      await tx.insert(backupVerifications).values({ backupId: doc.backup_id, ...rec }).onConflictDoUpdate({ target: backupVerifications.backupId, set: rec });
    }
    return true;
  });
  if (!imported) return;
  report.backups++;
  report.shards += inserted;
  report.unverified_shards += unverified;
  report.damaged_objects.push(...damagedCopies);
  if (status !== 'healthy') {
    const reason = !b.chunkIds
      ? `its manifest cannot be read (${b.problems.join('; ')})`
      : lost.length
        ? `${lost.length} shard(s) have no readable copy left`
        : `${under.length} shard(s) have fewer than ${R} good copies`;
    report.damaged_backups.push({ backup_id: doc.backup_id, status, lost_shards: lost, under_replicated: under, reason });
  }
}
