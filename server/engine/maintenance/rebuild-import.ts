/**
 * Importing one backup read back from storage (rebuild-snapshot.ts) into the catalog, in one transaction:
 * its row, its shards (checked ones in full; listed-only data shards as unverified, with the stored size the
 * listing gave), their replicas, its references, and — when a shard is missing or damaged — the verification
 * status verify would give it. A half-imported backup can therefore never be listed.
 */
import { sql } from 'drizzle-orm';
import { backups, backupVerifications } from '../../../db/schema';
import { type CheckedShard, contentIdOf, UNVERIFIED } from '../repository/content-check';
import { type Copy, codingOf, copyKey } from './rebuild-listing';
import { objectSizeFromPiece } from '../repository/pieces';
import { type RebuildContext, type RebuiltBackup, checkCopies } from './rebuild-snapshot';
import type { SecurityLevel } from '../types';

/** Rows per INSERT (one JSON parameter each): a backup of up to this many shards takes 3 statements. */
const ROWS_PER_STATEMENT = 5000;

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

/**
 * Imports the backup (one transaction). Returns the shards whose every listed copy now has a replica row
 * (those present, when the backup was imported; none when it already existed), so the caller's replica merge
 * can skip them.
 */
export async function importBackup(rc: RebuildContext, b: RebuiltBackup, readData: boolean, report: Counters): Promise<string[]> {
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
  // An erasure-coded shard needs k good pieces to be readable, and all k + m to be whole.
  const coding = new Map(rows.map((r) => [r.id, codingOf([...r.good, ...r.bad.map((x) => x.copy)])]));
  const readable = (r: Row) => r.good.length >= (coding.get(r.id)?.k ?? 1);
  const whole = (r: Row) => r.good.length >= (coding.get(r.id) ? coding.get(r.id)!.k + coding.get(r.id)!.m : R) && !r.bad.length;
  const lost = rows.filter((r) => !readable(r)).map((r) => r.id).sort();
  const under = rows.filter((r) => readable(r) && !whole(r)).map((r) => r.id).sort();
  const damagedCopies = rows.flatMap((r) => r.bad.map((x) => `${x.copy.location}:${copyKey(r.id, x.copy)} (${x.reason})`));
  const status = lost.length || !b.chunkIds ? 'corrupted' : under.length ? 'degraded' : 'healthy';
  const present = rows.filter(readable).sort((a, z) => a.id.localeCompare(z.id));

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
        // A suspicious backup stays suspicious (and unacknowledged) after recover-catalog: retention keeps protecting its predecessor.
        suspicious: m.suspicious === true,
        changeSummary: typeof m.change_summary === 'object' && m.change_summary ? (m.change_summary as Record<string, unknown>) : null,
      })
      .onConflictDoNothing()
      .returning({ id: backups.id });
    if (!row.length) return false;
    // Few, large statements: each takes its rows as one JSON parameter (no limit of 65535 parameters, and
    // the single-threaded catalog server parses one value instead of thousands).
    for (let i = 0; i < present.length; i += ROWS_PER_STATEMENT) {
      const part = present.slice(i, i + ROWS_PER_STATEMENT);
      const shardRows = part.map((r) => {
        const c = r.checked;
        const ec = coding.get(r.id);
        // A piece's listed size gives the object's size to within the padding of its last data piece.
        const size = c?.storedSize ?? (ec ? objectSizeFromPiece(r.good[0]!.size, r.id.length, ec.k) : r.good[0]!.size);
        return { id: r.id, cid: contentIdOf(r.id), key: c?.keyId ?? '', plain: c?.plainSize ?? 0, size, sum: c?.checksum ?? UNVERIFIED, comp: c?.compression ?? 'unknown', kind: r.kind, k: ec?.k ?? null, m: ec?.m ?? null };
      });
      // A shard imported unverified by an earlier backup is completed when this one checked it.
      const res = await tx.execute<{ inserted: number; unverified: number }>(sql`
        WITH ins AS (
          INSERT INTO shards (id, content_id, security_level, key_id, plain_size, stored_size, checksum, compression, kind, ec_data, ec_parity)
          SELECT x.id, x.cid, ${level}, x.key, x.plain, x.size, x.sum, x.comp, x.kind, x.k, x.m
          FROM jsonb_to_recordset(${JSON.stringify(shardRows)}::jsonb) AS x(id text, cid text, key text, plain integer, size integer, sum text, comp text, kind text, k integer, m integer)
          ON CONFLICT (id) DO UPDATE SET key_id = EXCLUDED.key_id, plain_size = EXCLUDED.plain_size, stored_size = EXCLUDED.stored_size,
            checksum = EXCLUDED.checksum, compression = EXCLUDED.compression, kind = EXCLUDED.kind
            WHERE shards.checksum = ${UNVERIFIED} AND EXCLUDED.checksum <> ${UNVERIFIED}
          RETURNING (xmax = 0) AS inserted, checksum)
        SELECT count(*) FILTER (WHERE inserted)::int AS inserted, count(*) FILTER (WHERE inserted AND checksum = ${UNVERIFIED})::int AS unverified FROM ins`);
      inserted += Number(res.rows[0]?.inserted ?? 0);
      unverified += Number(res.rows[0]?.unverified ?? 0);
      const piece = (c: Copy) => c.piece?.index ?? null;
      const reps = part.flatMap((r) => [...r.good.map((c) => ({ id: r.id, loc: c.location, state: 'ok', piece: piece(c) })), ...r.bad.map((x) => ({ id: r.id, loc: x.copy.location, state: 'bad', piece: piece(x.copy) }))]);
      await tx.execute(sql`
        INSERT INTO shard_replicas (shard_id, location, state, piece)
        SELECT x.id, x.loc, x.state, x.piece FROM jsonb_to_recordset(${JSON.stringify(reps)}::jsonb) AS x(id text, loc text, state text, piece integer)
        ON CONFLICT DO NOTHING`);
      await tx.execute(sql`
        INSERT INTO backup_shards (backup_id, shard_id)
        SELECT ${doc.backup_id}, x.id FROM jsonb_array_elements_text(${JSON.stringify(part.map((r) => r.id))}::jsonb) AS x(id)
        ON CONFLICT DO NOTHING`);
    }
    if (status !== 'healthy' || readData) {
      const rec = { status, verifiedAt: ctx.now(), lostShards: lost.length, badShards: under.length };
      await tx.insert(backupVerifications).values({ backupId: doc.backup_id, ...rec }).onConflictDoUpdate({ target: backupVerifications.backupId, set: rec });
    }
    return true;
  });
  if (!imported) return [];
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
  return present.map((r) => r.id);
}
