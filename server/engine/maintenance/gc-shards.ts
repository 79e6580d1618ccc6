/**
 * Shard rows that no backup references, and their replica objects.
 *
 * A failed or reaped backup drops its references (backup-job.ts, housekeeping.ts) but leaves the shards it
 * had recorded; a deleted backup's shards are collected at once (collectShards in housekeeping.ts), but one
 * whose collection was cut short leaves rows behind too. storage gc (orphans.ts) collects such rows in two
 * runs, under the same mark as orphan objects:
 *
 *   1. a run MARKS every unreferenced row (`shards.gc_marked_at` = the mark's time);
 *   2. a run whose mark is ripe (grace period over, every backup running at mark time ended) deletes the rows
 *      still marked by that mark and still unreferenced — locked first, re-checked in a fresh statement —
 *      then their objects.
 *
 * Why a backup never loses a shard: reusing one (dedup by content id, or an incremental backup referencing
 * its base's shards, pg-shard-index.ts) is one statement that UPDATEs the shard row — clearing its mark, which
 * takes the row lock — and inserts the reference. The delete locks the rows (`FOR UPDATE`) and then checks,
 * in a new statement, that the mark is still there and no reference exists. So a reuse either committed
 * first (the mark is gone or a reference exists: the row stays), or waits for the lock and then finds the
 * row deleted (its UPDATE matches nothing, and the backup writes the content again as a new shard). A
 * reused shard that becomes unreferenced again waits for a new mark and a full grace period.
 *
 * Replica rows go in the same transaction as their shard row (ON DELETE CASCADE); objects are deleted only
 * after the commit, so an object whose delete fails is an orphan object, which the object sweep removes.
 */
import { type SQL, sql } from 'drizzle-orm';
import type { EngineContext } from '../context';
import { forEachLimit } from '../for-each-limit';
import type { RowTally, ShardGcHooks, ShardGcReport } from './orphan-report';

export type { ShardGcHooks } from './orphan-report';
import { replicaKey } from '../repository/repository';
import { type KeptLocked, removeObject } from '../storage/object-locks';

/** Rows locked, re-checked and deleted together. */
const ROW_BATCH = 200;
const DELETE_CONCURRENCY = 8;

export interface GoneShard {
  id: string;
  storedSize: number;
  locations: string[];
  /** The piece each of `locations` held (erasure-coded shards), null for a whole copy. */
  pieces: (number | null)[];
  coding: { k: number; m: number } | null;
}

const unreferenced = sql`NOT EXISTS (SELECT 1 FROM backup_shards b WHERE b.shard_id = s.id)`;
const markedBy = (at: Date) => sql`s.gc_marked_at IS NOT NULL AND s.gc_marked_at <= ${at.toISOString()}::timestamptz`;
const list = (ids: string[]) => sql.join(ids.map((id) => sql`${id}`), sql`, `);

export function emptyShardReport(): ShardGcReport {
  const t = (): RowTally => ({ shards: 0, objects: 0, bytes: 0 });
  return { marked: t(), deleted: t(), kept: { ...t(), reasons: {} }, objects_left: 0, objects_locked: [] };
}

/**
 * Deletes those of `ids` that no backup references (and, with `marked`, only rows gc marked at or before that
 * time), with their replica rows, in one transaction: rows locked first, references checked after.
 */
export async function deleteUnreferencedRows(ctx: EngineContext, ids: string[], marked: Date | null, hooks?: ShardGcHooks): Promise<GoneShard[]> {
  if (!ids.length) return [];
  const still: SQL = marked ? sql`AND ${markedBy(marked)}` : sql``;
  return ctx.db.transaction(async (tx) => {
    await tx.execute(sql`SELECT id FROM shards WHERE id IN (${list(ids)}) ORDER BY id FOR UPDATE`);
    await hooks?.afterShardLock?.(ids);
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

/**
 * Deletes the objects of shards whose rows are gone. A failed delete leaves an orphan object (no row knows
 * it) for the object sweep; a locked one is kept and recorded (object-locks.ts), deleted after its lock.
 * Returns the objects deleted and the bytes they held, how many were left, and the locked ones kept.
 */
export async function deleteShardObjects(ctx: EngineContext, gone: GoneShard[], problem: (msg: string) => void): Promise<{ objects: number; bytes: number; left: number; locked: KeptLocked[] }> {
  const out = { objects: 0, bytes: 0, left: 0, locked: [] as KeptLocked[] };
  const work = gone.flatMap((g) => g.locations.map((location, i) => ({ g, location, piece: g.pieces[i] ?? null })));
  await forEachLimit(work, DELETE_CONCURRENCY, async ({ g, location, piece }) => {
    const loc = ctx.locations.get(location);
    const key = replicaKey(g.id, piece, g.coding);
    if (!loc) {
      out.left++;
      problem(`${location}: shard object ${key} was not deleted: the location is not configured any more (delete it by hand, or storage gc removes it once the location is back)`);
      return;
    }
    try {
      const info = await loc.backend.stat(key).catch(() => undefined);
      if (info === null) return; // already gone
      const removal = await removeObject(ctx, loc, key, `shard ${g.id} unreferenced`);
      if (!removal.deleted) return void out.locked.push(removal.kept);
      out.objects++;
      out.bytes += info?.size ?? g.storedSize;
    } catch (err) {
      out.left++;
      problem(`${location}: could not delete shard object ${key}: ${(err as Error).message}; it is an orphan object now, which a later storage gc removes`);
    }
  });
  return out;
}

/**
 * The ripe mark's part for shard rows: deletes every row marked at or before `markedAt` that is still
 * unreferenced, then its objects. A dry run only counts them.
 */
export async function collectMarkedShards(
  ctx: EngineContext,
  markedAt: Date,
  opts: { dryRun: boolean; report: ShardGcReport; problems: string[]; hooks?: ShardGcHooks },
): Promise<void> {
  const { report } = opts;
  let after = '';
  for (;;) {
    const page = await ctx.db.execute<{ id: string; replicas: number; stored_size: number }>(sql`
      SELECT s.id, s.stored_size, (SELECT count(*) FROM shard_replicas r WHERE r.shard_id = s.id) AS replicas
      FROM shards s WHERE ${markedBy(markedAt)} AND ${unreferenced} AND s.id > ${after}
      ORDER BY s.id LIMIT ${ROW_BATCH}`);
    if (!page.rows.length) return;
    after = page.rows.at(-1)!.id;
    if (opts.dryRun) {
      for (const r of page.rows) addRows(report.deleted, 1, Number(r.replicas), Number(r.replicas) * Number(r.stored_size));
      continue;
    }
    const gone = await deleteUnreferencedRows(
      ctx,
      page.rows.map((r) => r.id),
      markedAt,
      opts.hooks,
    );
    const goneIds = new Set(gone.map((g) => g.id));
    for (const r of page.rows) {
      // Reused between the page query and the lock: it stays.
      if (!goneIds.has(r.id)) addKept(report, 'referenced_again', 1, Number(r.replicas), Number(r.replicas) * Number(r.stored_size));
    }
    const done = await deleteShardObjects(ctx, gone, (msg) => opts.problems.push(msg));
    addRows(report.deleted, gone.length, done.objects, done.bytes);
    report.objects_left += done.left;
    report.objects_locked.push(...done.locked);
  }
}

/**
 * Marks every unreferenced, unmarked row with the new mark's time and returns what the new mark covers:
 * every unreferenced row marked at or before it. A dry run marks nothing; it counts what a real run would
 * mark (rows the ripe mark `collecting` would delete first excluded).
 */
export async function markUnreferencedShards(ctx: EngineContext, at: Date, opts: { dryRun: boolean; collecting: Date | null }): Promise<RowTally> {
  let scope: SQL;
  if (opts.dryRun) {
    const notCollected = opts.collecting ? sql`AND NOT (${markedBy(opts.collecting)})` : sql``;
    scope = sql`(s.gc_marked_at IS NULL OR s.gc_marked_at <= ${at.toISOString()}::timestamptz) ${notCollected}`;
  } else {
    await ctx.db.execute(sql`UPDATE shards s SET gc_marked_at = ${at.toISOString()}::timestamptz WHERE s.gc_marked_at IS NULL AND ${unreferenced}`);
    scope = markedBy(at);
  }
  return tally(ctx, sql`${scope} AND ${unreferenced}`);
}

/** While a mark waits: the unreferenced rows, kept for the mark's reason (marked) or until it is done (not yet marked). */
export async function countWaiting(ctx: EngineContext, markedAt: Date, waitReason: 'grace_period' | 'backups_running', report: ShardGcReport): Promise<void> {
  const marked = await tally(ctx, sql`${markedBy(markedAt)} AND ${unreferenced}`);
  const pending = await tally(ctx, sql`NOT (${markedBy(markedAt)}) AND ${unreferenced}`);
  if (marked.shards) addKept(report, waitReason, marked.shards, marked.objects, marked.bytes);
  if (pending.shards) addKept(report, 'mark_pending', pending.shards, pending.objects, pending.bytes);
}

async function tally(ctx: EngineContext, where: SQL): Promise<RowTally> {
  const rows = await ctx.db.execute<{ shards: number; objects: number; bytes: number }>(sql`
    SELECT count(*) AS shards, COALESCE(sum(x.replicas), 0) AS objects, COALESCE(sum(x.replicas * x.stored_size), 0) AS bytes
    FROM (SELECT s.stored_size, (SELECT count(*) FROM shard_replicas r WHERE r.shard_id = s.id) AS replicas FROM shards s WHERE ${where}) x`);
  const r = rows.rows[0];
  return { shards: Number(r?.shards ?? 0), objects: Number(r?.objects ?? 0), bytes: Number(r?.bytes ?? 0) };
}

function addRows(t: RowTally, shards: number, objects: number, bytes: number): void {
  t.shards += shards;
  t.objects += objects;
  t.bytes += bytes;
}

function addKept(report: ShardGcReport, reason: 'referenced_again' | 'grace_period' | 'backups_running' | 'mark_pending', shards: number, objects: number, bytes: number): void {
  addRows(report.kept, shards, objects, bytes);
  report.kept.reasons[reason] = (report.kept.reasons[reason] ?? 0) + shards;
}
