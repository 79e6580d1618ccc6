/**
 * optimize_storage_locations: brings every shard back in line with the placement policy after locations
 * were added, disabled, removed or filled up — `replication_factor` good replicas on enabled locations,
 * spread across regions when the locations allow it. New copies are written (from a good replica) before
 * any copy is dropped, so a shard never has fewer good replicas than it started with.
 */
import { sql } from 'drizzle-orm';
import { shardRecordsByIds } from './catalog';
import type { EngineContext } from './context';
import { shardKey } from './repository';
import { fetchShard, putReplicas } from './shard-store';

export interface OptimizeReport {
  shards_checked: number;
  copies_added: number;
  copies_removed: number;
  moves: { shard_id: string; from: string | null; to: string[]; reason: string }[];
  problems: string[];
  dry_run: boolean;
}

export async function optimizeStorage(ctx: EngineContext, dryRun: boolean): Promise<OptimizeReport> {
  const report: OptimizeReport = { shards_checked: 0, copies_added: 0, copies_removed: 0, moves: [], problems: [], dry_run: dryRun };
  const R = ctx.config.replication_factor;
  const usable = (name: string) => {
    const l = ctx.locations.get(name);
    return Boolean(l && l.config.enabled);
  };
  const regionOf = (name: string) => ctx.locations.get(name)?.config.region ?? '?';
  const regions = new Set(ctx.locations.enabled().map((l) => l.config.region));
  const ids = (await ctx.db.execute<{ id: string }>(sql`SELECT id FROM shards ORDER BY id`)).rows.map((r) => r.id);
  for (let i = 0; i < ids.length; i += 500) {
    const records = await shardRecordsByIds(ctx.db, ids.slice(i, i + 500));
    for (const rec of records.values()) {
      report.shards_checked++;
      const good = rec.replicas.filter((r) => r.state === 'ok' && usable(r.location)).map((r) => r.location);
      const stale = rec.replicas.filter((r) => !usable(r.location)).map((r) => r.location);
      const spread = new Set(good.map(regionOf)).size;
      let want = Math.max(0, R - good.length);
      let reason = want ? `${good.length} good replica(s) on enabled locations, ${R} wanted` : '';
      // All copies in one region while another region is available: add one elsewhere, drop one later.
      const needsSpread = !want && good.length > 1 && spread === 1 && regions.size > 1;
      if (needsSpread) {
        want = 1;
        reason = `every replica is in region ${regionOf(good[0]!)}`;
      }
      if (!want && !stale.length) continue;
      const exclude = new Set(rec.replicas.map((r) => r.location));
      let added: string[] = [];
      if (want) {
        if (needsSpread) for (const l of ctx.locations.enabled()) if (l.config.region === regionOf(good[0]!)) exclude.add(l.name);
        if (!dryRun) {
          try {
            const stored = await fetchShard(ctx, rec.id, rec.replicas, async (s) => s);
            const placed = await putReplicas(ctx, shardKey(rec.id), stored, 'optimize', { exclude, want });
            added = placed.map((l) => l.name);
            for (const name of added) {
              await ctx.db.execute(sql`INSERT INTO shard_replicas (shard_id, location, state, checked_at) VALUES (${rec.id}, ${name}, 'ok', now())
                ON CONFLICT (shard_id, location) DO UPDATE SET state = 'ok', checked_at = now()`);
            }
          } catch (err) {
            report.problems.push(`${rec.id}: ${(err as Error).message}`);
            continue;
          }
        } else {
          added = ctx.locations.candidates(rec.storedSize, exclude).slice(0, want).map((l) => l.name);
        }
        report.copies_added += added.length;
      }
      // Drop copies on locations that are disabled or gone, and the surplus copy of a re-spread shard,
      // only once enough good copies exist elsewhere.
      const drop = [...stale];
      if (needsSpread && added.length) drop.push(good[good.length - 1]!);
      if (good.length + added.length - (needsSpread && added.length ? 1 : 0) < R) drop.length = 0;
      for (const name of drop) {
        if (!dryRun) {
          await ctx.locations.get(name)?.backend.delete(shardKey(rec.id)).catch(() => undefined);
          await ctx.db.execute(sql`DELETE FROM shard_replicas WHERE shard_id = ${rec.id} AND location = ${name}`);
        }
        report.copies_removed++;
      }
      report.moves.push({ shard_id: rec.id, from: drop.join(',') || null, to: added, reason: reason || 'replica on a disabled or removed location' });
    }
  }
  return report;
}
