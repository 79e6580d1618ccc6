/**
 * The shard and storage totals (how many shards and stored bytes in all, and per location), read from
 * usage_deltas — kept by triggers on shards and shard_replicas (db/migrations/0011_usage_counters.sql) — instead of a join
 * over every shard and replica, which at a million shards takes seconds. When the rows pile up (every
 * statement that writes shards appends one), they are folded into one row per location.
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../../../db/client';

export interface UsageTotals {
  /** Every shard row: how many, and their stored bytes (one copy each). */
  shards: { objects: number; bytes: number };
  /** Per location: the replicas there and their stored bytes. */
  locations: Map<string, { objects: number; bytes: number }>;
}

/** Above this many rows, a read folds them together (a few ms; below it the sum is cheaper than the fold). */
export const FOLD_ABOVE = 500;

export async function usageTotals(db: Db): Promise<UsageTotals> {
  const rows = await db.execute<{ location: string | null; objects: string | number; bytes: string | number; n: string | number }>(sql`
    SELECT location, sum(objects) AS objects, sum(bytes) AS bytes, count(*) AS n FROM usage_deltas GROUP BY location`);
  const out: UsageTotals = { shards: { objects: 0, bytes: 0 }, locations: new Map() };
  let n = 0;
  for (const r of rows.rows) {
    n += Number(r.n);
    const v = { objects: Number(r.objects), bytes: Number(r.bytes) };
    if (r.location === null) out.shards = v;
    else if (v.objects !== 0 || v.bytes !== 0) out.locations.set(r.location, v);
  }
  if (n > FOLD_ABOVE) await foldUsage(db);
  return out;
}

/**
 * Replaces the rows by their sums, one per location. Safe beside writers and other folds: the DELETE takes
 * only the rows this statement sees (rows added meanwhile stay, and count on their own), and a row another
 * fold deleted first is skipped, never counted twice.
 */
export async function foldUsage(db: Db): Promise<void> {
  await db.execute(sql`
    WITH gone AS (DELETE FROM usage_deltas RETURNING location, objects, bytes)
    INSERT INTO usage_deltas (location, objects, bytes)
    SELECT location, sum(objects), sum(bytes) FROM gone GROUP BY location HAVING sum(objects) <> 0 OR sum(bytes) <> 0 OR location IS NULL`);
}
