/**
 * Importing one backup read back from storage (rebuild-snapshot.ts) into the catalog, in one transaction:
 * its row, its shards (checked ones in full; listed-only data shards as unverified, with the stored size the
 * listing gave), their replicas, its references, and — when a shard is missing or damaged — the verification
 * status verify would give it. A half-imported backup can therefore never be listed.
 */
import { backups, backupVerifications } from '../../../db/schema';
import { type CheckedShard, contentIdOf, UNVERIFIED } from '../repository/content-check';
import { type Copy, codingOf, copyKey } from './rebuild-listing';
import { objectSizeFromPiece } from '../repository/pieces';
import type { ImportedShard } from '../repository/shard-index';
import { type RebuildContext, type RebuiltBackup, checkCopies } from './rebuild-snapshot';
import type { SecurityLevel } from '../types';

/** Shards per importShards call (one JSON parameter per statement): a backup of up to this many takes 3 statements. */
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
    for (let i = 0; i < present.length; i += ROWS_PER_STATEMENT) {
      const part = present.slice(i, i + ROWS_PER_STATEMENT).map((r): ImportedShard => {
        const c = r.checked;
        const ec = coding.get(r.id) ?? null;
        // A piece's listed size gives the object's size to within the padding of its last data piece.
        const size = c?.storedSize ?? (ec ? objectSizeFromPiece(r.good[0]!.size, r.id.length, ec.k) : r.good[0]!.size);
        const piece = (x: Copy) => x.piece?.index ?? null;
        const replicas = [...r.good.map((x) => ({ location: x.location, state: 'ok' as const, piece: piece(x) })), ...r.bad.map((x) => ({ location: x.copy.location, state: 'bad' as const, piece: piece(x.copy) }))];
        return { id: r.id, contentId: contentIdOf(r.id), keyId: c?.keyId ?? '', plainSize: c?.plainSize ?? 0, storedSize: size, checksum: c?.checksum ?? UNVERIFIED, compression: c?.compression ?? 'unknown', kind: r.kind, coding: ec, replicas };
      });
      const res = await ctx.index.importShards(doc.backup_id, level, part, tx);
      inserted += res.inserted;
      unverified += res.unverified;
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
