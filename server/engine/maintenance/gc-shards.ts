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
 * its base's shards, repository/pg-shard-index.ts) is one statement that UPDATEs the shard row — clearing its mark, which
 * takes the row lock — and inserts the reference. The delete locks the rows (`FOR UPDATE`) and then checks,
 * in a new statement, that the mark is still there and no reference exists. So a reuse either committed
 * first (the mark is gone or a reference exists: the row stays), or waits for the lock and then finds the
 * row deleted (its UPDATE matches nothing, and the backup writes the content again as a new shard). A
 * reused shard that becomes unreferenced again waits for a new mark and a full grace period.
 *
 * Replica rows go in the same transaction as their shard row (ON DELETE CASCADE); objects are deleted only
 * after the commit, so an object whose delete fails is an orphan object, which the object sweep removes.
 * The marks, look-ups and deletes of rows go through the shard index (ctx.index, UnreferencedShards).
 */
import type { EngineContext } from '../context';
import { forEachLimit } from '../for-each-limit';
import type { RowTally, ShardGcHooks, ShardGcReport } from './orphan-report';

export type { ShardGcHooks } from './orphan-report';
import { replicaKey } from '../repository/repository';
import { type KeptLocked, removeObject } from '../storage/object-locks';
import type { GoneShard, UnreferencedScope } from '../repository/shard-index';

export type { GoneShard } from '../repository/shard-index';

/** Rows locked, re-checked and deleted together. */
const ROW_BATCH = 200;
const DELETE_CONCURRENCY = 8;

export function emptyShardReport(): ShardGcReport {
  const t = (): RowTally => ({ shards: 0, objects: 0, bytes: 0 });
  return { marked: t(), deleted: t(), kept: { ...t(), reasons: {} }, objects_left: 0, objects_locked: [] };
}

/**
 * Deletes those of `ids` that no backup references (and, with `marked`, only rows gc marked at or before that
 * time), with their replica rows, in one transaction: rows locked first, references checked after.
 */
export function deleteUnreferencedRows(ctx: EngineContext, ids: string[], marked: Date | null, hooks?: ShardGcHooks): Promise<GoneShard[]> {
  return ctx.index.deleteUnreferenced(ids, marked, hooks?.afterShardLock);
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
  await collectMarkedRows(ctx, markedAt, opts, async (gone) => {
    const done = await deleteShardObjects(ctx, gone, (msg) => opts.problems.push(msg));
    addRows(report.deleted, gone.length, done.objects, done.bytes);
    report.objects_left += done.left;
    report.objects_locked.push(...done.locked);
  });
}

/**
 * The rows of collectMarkedShards, a page at a time through the shard index: `onGone` gets each page's
 * deleted rows (whose objects are to go) and counts them. A dry run deletes nothing and counts the page.
 */
export async function collectMarkedRows(
  ctx: EngineContext,
  markedAt: Date,
  opts: { dryRun: boolean; report: ShardGcReport; hooks?: ShardGcHooks },
  onGone: (gone: GoneShard[]) => Promise<void>,
): Promise<void> {
  const { report } = opts;
  let after = '';
  for (;;) {
    const page = await ctx.index.markedPage(markedAt, after, ROW_BATCH);
    if (!page.length) return;
    after = page.at(-1)!.id;
    if (opts.dryRun) {
      for (const r of page) addRows(report.deleted, 1, r.replicas, r.replicas * r.storedSize);
      continue;
    }
    const gone = await deleteUnreferencedRows(
      ctx,
      page.map((r) => r.id),
      markedAt,
      opts.hooks,
    );
    const goneIds = new Set(gone.map((g) => g.id));
    for (const r of page) {
      // Reused between the page query and the lock: it stays.
      if (!goneIds.has(r.id)) addKept(report, 'referenced_again', 1, r.replicas, r.replicas * r.storedSize);
    }
    await onGone(gone);
  }
}

/**
 * Marks every unreferenced, unmarked row with the new mark's time and returns what the new mark covers:
 * every unreferenced row marked at or before it. A dry run marks nothing; it counts what a real run would
 * mark (rows the ripe mark `collecting` would delete first excluded).
 */
export async function markUnreferencedShards(ctx: EngineContext, at: Date, opts: { dryRun: boolean; collecting: Date | null }): Promise<RowTally> {
  let scope: UnreferencedScope;
  if (opts.dryRun) {
    scope = { markedBy: at, orUnmarked: true, except: opts.collecting };
  } else {
    await ctx.index.markUnreferenced(at);
    scope = { markedBy: at };
  }
  return ctx.index.tallyUnreferenced(scope);
}

/** While a mark waits: the unreferenced rows, kept for the mark's reason (marked) or until it is done (not yet marked). */
export async function countWaiting(ctx: EngineContext, markedAt: Date, waitReason: 'grace_period' | 'backups_running', report: ShardGcReport): Promise<void> {
  const marked = await ctx.index.tallyUnreferenced({ markedBy: markedAt });
  const pending = await ctx.index.tallyUnreferenced({ except: markedAt });
  if (marked.shards) addKept(report, waitReason, marked.shards, marked.objects, marked.bytes);
  if (pending.shards) addKept(report, 'mark_pending', pending.shards, pending.objects, pending.bytes);
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
