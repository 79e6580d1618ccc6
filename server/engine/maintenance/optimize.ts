/**
 * optimize_storage_locations: brings every shard back in line with the placement policy after locations
 * were added, disabled, removed or filled up — `replication_factor` good replicas on enabled locations,
 * spread across regions when the locations allow it. New copies are written (from a good replica) before
 * any copy is dropped, so a shard never has fewer good replicas than it started with.
 *
 * A byte budget (the daily maintenance's `optimize_budget_gb_per_run`) bounds the bytes copied in one run:
 * once spent, the shards still needing a copy are counted (shards_left, bytes_left) and left for the next run.
 */
import type { EngineContext } from '../context';
import { refreshSpace } from '../storage/location-space';
import type { Location } from '../storage/locations';
import { shardKey } from '../repository/repository';
import { fetchShard, putReplicas } from '../repository/shard-store';
import { IntegrityError, storedChecksum } from '../repository/codec';
import { UNVERIFIED } from '../repository/content-check';
import { movePieces } from './optimize-pieces';

export interface OptimizeReport {
  shards_checked: number;
  copies_added: number;
  copies_removed: number;
  moves: { shard_id: string; from: string | null; to: string[]; reason: string }[];
  problems: string[];
  dry_run: boolean;
  /** Bytes written as new copies in this run (a dry run: what it would write). */
  bytes_copied: number;
  /** The run's copy budget in bytes; null = unbounded. */
  budget_bytes: number | null;
  /** Shards (and their bytes, once per copy) that needed a copy after the budget was spent: the next run's work. */
  shards_left: number;
  bytes_left: number;
}

export interface OptimizeOptions {
  dryRun?: boolean;
  /** Stop copying once this many bytes were copied (a copy under way is finished; the first copy always runs). */
  budgetBytes?: number | null;
}

/** Whether a copy of `size` bytes still fits the run's budget; counts it as left over when not. */
function withinBudget(report: OptimizeReport, size: number, copies: number): boolean {
  const budget = report.budget_bytes;
  if (budget === null || report.bytes_copied === 0 || report.bytes_copied + size * copies <= budget) return true;
  report.shards_left++;
  report.bytes_left += size * copies;
  return false;
}

export async function optimizeStorage(ctx: EngineContext, opts: OptimizeOptions = {}): Promise<OptimizeReport> {
  const dryRun = opts.dryRun ?? false;
  const report: OptimizeReport = { shards_checked: 0, copies_added: 0, copies_removed: 0, moves: [], problems: [], dry_run: dryRun, bytes_copied: 0, budget_bytes: opts.budgetBytes ?? null, shards_left: 0, bytes_left: 0 };
  await refreshSpace(ctx);
  const R = ctx.config.replication_factor;
  const usable = (name: string) => {
    const l = ctx.locations.get(name);
    return Boolean(l && l.config.enabled);
  };
  const regionOf = (name: string) => ctx.locations.get(name)?.config.region ?? '?';
  const regions = new Set(ctx.locations.enabled().map((l) => l.config.region));
  const ids = await ctx.index.allShardIds();
  for (let i = 0; i < ids.length; i += 500) {
    const records = await ctx.index.records(ids.slice(i, i + 500));
    for (const rec of records.values()) {
      report.shards_checked++;
      if (rec.coding) {
        await movePieces(ctx, rec, report, usable);
        continue;
      }
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
      if (want && !withinBudget(report, rec.storedSize, want)) continue;
      const exclude = new Set(rec.replicas.map((r) => r.location));
      let added: string[] = [];
      if (want) {
        if (needsSpread) for (const l of ctx.locations.enabled()) if (l.config.region === regionOf(good[0]!)) exclude.add(l.name);
        if (!dryRun) {
          try {
            const stored = await fetchShard(ctx, rec.id, rec.replicas, sound(rec));
            const placed = await putReplicas(ctx, shardKey(rec.id), stored, 'optimize', { exclude, want });
            added = placed.map((l) => l.name);
            // Recorded only now that every copy is stored: a row never names an object not (yet) there.
            for (const name of added) await ctx.index.addReplica(rec.id, name, ctx.now());
          } catch (err) {
            report.problems.push(`${rec.id}: ${(err as Error).message}`);
            continue;
          }
        } else {
          added = ctx.locations.candidates(rec.storedSize, exclude).slice(0, want).map((l) => l.name);
        }
        report.copies_added += added.length;
        report.bytes_copied += added.length * rec.storedSize;
      }
      // Drop copies on locations that are disabled or gone, and the surplus copy of a re-spread shard,
      // only once enough good copies exist elsewhere.
      const drop = [...stale];
      if (needsSpread && added.length) drop.push(good[good.length - 1]!);
      if (good.length + added.length - (needsSpread && added.length ? 1 : 0) < R) drop.length = 0;
      for (const name of drop) {
        if (!dryRun) {
          // The row goes first: an object whose delete fails is then an orphan copy, reported for storage gc.
          await ctx.index.removeReplica(rec.id, name);
          try {
            await ctx.locations.get(name)?.backend.delete(shardKey(rec.id));
          } catch (err) {
            report.problems.push(leftBehind(rec.id, name, err));
            continue;
          }
        }
        report.copies_removed++;
      }
      report.moves.push({ shard_id: rec.id, from: drop.join(',') || null, to: added, reason: reason || 'replica on a disabled or removed location' });
    }
  }
  for (const full of ctx.locations.enabled()) await relieve(ctx, full, report);
  return report;
}

const MiB = 1024 * 1024;

/** A copy the catalog no longer lists (its row is gone) whose object could not be deleted. */
function leftBehind(shardId: string, location: string, err: unknown): string {
  return `${shardId}: its copy on ${location} is no longer in the catalog, but deleting it failed (${(err as Error).message}); it takes space there until storage gc removes it (plexichat-backup storage gc, with ${location} enabled) or it is deleted by hand.`;
}

/**
 * A copy is made only of bytes that pass the catalog's checksum (or, for a shard imported from storage and
 * not yet checked, at least their own trailer checksum): a damaged replica throws IntegrityError, which
 * marks it bad, and the read moves on to the next one instead of spreading the damage.
 */
function sound(rec: { id: string; checksum: string }) {
  return async (stored: Buffer): Promise<Buffer> => {
    const sum = storedChecksum(stored);
    if (sum === null || (rec.checksum !== UNVERIFIED && sum !== rec.checksum)) throw new IntegrityError(`the copy of shard ${rec.id} does not match its checksum`);
    return stored;
  };
}

/**
 * A location holding more than its capacity (max_size_gb was lowered, or data arrived while it was not
 * full): replicas move to locations with room, largest shards first, until it is back under its capacity.
 * Each move copies first and drops after, like every other move here; a shard is never left with fewer
 * good replicas than it had.
 */
async function relieve(ctx: EngineContext, full: Location, report: OptimizeReport): Promise<void> {
  const cap = ctx.locations.capacity(full);
  if (cap === null || full.usedBytes <= cap) return;
  let excess = full.usedBytes - cap;
  const planned = new Map<string, number>();
  const reason = `${full.name} holds ${(full.usedBytes / MiB).toFixed(1)} MiB, over its capacity of ${(cap / MiB).toFixed(1)} MiB`;
  // Candidates re-read in pages: each move changes nothing about the shards not yet seen.
  let offset = 0;
  while (excess > 0) {
    const page = await ctx.index.largestAt(full.name, offset, 200);
    if (!page.length) break;
    offset += page.length;
    const records = await ctx.index.records(page);
    for (const rec of records.values()) {
      if (excess <= 0) break;
      if (rec.coding) continue; // pieces leave a full location only when it is disabled (optimize-pieces.ts)
      const exclude = new Set(rec.replicas.map((r) => r.location));
      const roomFor = (l: Location) => {
        const c = ctx.locations.capacity(l);
        return c === null || l.usedBytes + (planned.get(l.name) ?? 0) + rec.storedSize <= c;
      };
      const target = ctx.locations.candidates(rec.storedSize, exclude).find(roomFor);
      if (!target) {
        report.problems.push(`${reason}, and no other enabled location has room for shard ${rec.id} (${rec.storedSize} bytes): add a location or raise a capacity.`);
        return;
      }
      if (!withinBudget(report, rec.storedSize, 1)) {
        excess -= rec.storedSize;
        continue;
      }
      let to = [target.name];
      let deleteFailed = false;
      if (!report.dry_run) {
        try {
          const stored = await fetchShard(ctx, rec.id, rec.replicas, sound(rec));
          const placed = await putReplicas(ctx, shardKey(rec.id), stored, 'optimize', { exclude, want: 1 });
          to = placed.map((l) => l.name);
          if (!to.length) throw new Error('no location accepted the copy');
          // The copy's row and the old row's removal in one transaction, once the copy is stored; the old
          // object goes after: one whose delete fails is then an orphan copy, reported for storage gc.
          await ctx.index.addReplica(rec.id, to[0]!, ctx.now(), { replaces: full.name });
          offset--; // this shard left the page's listing
        } catch (err) {
          report.problems.push(`${rec.id}: ${(err as Error).message}`);
          continue;
        }
        try {
          await full.backend.delete(shardKey(rec.id));
          full.usedBytes -= rec.storedSize;
        } catch (err) {
          report.problems.push(leftBehind(rec.id, full.name, err));
          deleteFailed = true;
        }
      } else {
        // A dry run changes nothing, not even the usage counters: it keeps its own tally of what it would add.
        planned.set(target.name, (planned.get(target.name) ?? 0) + rec.storedSize);
      }
      excess -= rec.storedSize;
      report.bytes_copied += rec.storedSize;
      report.copies_added++;
      if (!deleteFailed) report.copies_removed++;
      report.moves.push({ shard_id: rec.id, from: full.name, to, reason });
      if (deleteFailed) {
        // Nothing was freed, and moving more copies off would free nothing either: the relief stops here.
        report.problems.push(`${reason}, and deleting there fails, so no more copies were moved off it: fix what the delete reported, then run optimize again.`);
        return;
      }
    }
  }
}
