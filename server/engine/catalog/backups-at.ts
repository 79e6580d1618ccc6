/**
 * How many backups each location holds (those whose manifest has a replica there: without it nothing of a
 * backup can be restored from there). That is one index probe per backup — seconds at 10,000 backups on a
 * busy machine — so the answer is kept per catalog and computed again only when it can have changed: when
 * shards or replicas were added or removed (usage_deltas has a newer row) or a backup completed. When the last
 * count took long, a new count starts and a page waits for it up to WAIT_MS, then gets the kept answer while
 * the count finishes behind it: a count that took long once (a cold catalog, a busy machine) must not show
 * "0 backups" on the storage page just after a backup completed (the console's e2e test met it in CI).
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../../../db/client';

/** A count that took longer than this is refreshed in the background, the previous answer served meanwhile. */
export const SLOW_COUNT_MS = 100;
/** How long a page waits for such a refresh before it gets the previous answer (pages answer in < 300 ms). */
export const WAIT_MS = 150;

interface Kept {
  stamp: string;
  value: Map<string, number>;
  ms: number;
  refreshing: Promise<void> | null;
}

const kept = new WeakMap<Db, Kept>();

export async function backupsAtLocations(db: Db, timing: { slowMs?: number; waitMs?: number } = {}): Promise<Map<string, number>> {
  const [s] = (
    await db.execute<{ stamp: string }>(sql`
      SELECT (SELECT COALESCE(max(id), 0) FROM usage_deltas) || ':' || (SELECT count(*) FROM backups WHERE status = 'completed') AS stamp`)
  ).rows;
  const stamp = s?.stamp ?? '';
  const k = kept.get(db);
  if (k && k.stamp === stamp) return k.value;
  if (k && k.ms > (timing.slowMs ?? SLOW_COUNT_MS)) {
    k.refreshing ??= count(db, stamp)
      .catch(() => undefined)
      .finally(() => {
        k.refreshing = null;
      });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([k.refreshing, new Promise<void>((resolve) => (timer = setTimeout(resolve, timing.waitMs ?? WAIT_MS)))]);
    clearTimeout(timer);
    return kept.get(db)!.value; // the new count's if it came in time
  }
  await count(db, stamp);
  return kept.get(db)!.value;
}

async function count(db: Db, stamp: string): Promise<void> {
  const t0 = performance.now();
  const rows = await db.execute<{ location: string; n: number }>(sql`
    SELECT r.location, count(DISTINCT b.id) AS n
    FROM backups b CROSS JOIN LATERAL jsonb_array_elements_text(b.manifest_shards -> 'files') AS f(shard_id)
    JOIN shard_replicas r ON r.shard_id = f.shard_id
    WHERE b.status = 'completed' GROUP BY r.location`);
  kept.set(db, { stamp, value: new Map(rows.rows.map((r) => [r.location, Number(r.n)])), ms: performance.now() - t0, refreshing: null });
}
