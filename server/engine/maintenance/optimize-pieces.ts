/**
 * optimize_storage_locations for erasure-coded shards: a piece on a location that is disabled or gone is
 * re-created from k good pieces on an enabled location holding no piece of the shard yet, then the old
 * piece's row and object are dropped (written before dropped, as for replicas).
 */
import type { ShardRecord } from '../catalog/catalog';
import type { EngineContext } from '../context';
import { IntegrityError, storedChecksum } from '../repository/codec';
import { UNVERIFIED } from '../repository/content-check';
import { pieceKey } from '../repository/repository';
import { fetchShard } from '../repository/shard-store';
import type { OptimizeReport } from './optimize';
import { writePieces } from './verify-pieces';

/** Moves the pieces of `rec` off locations that are not usable any more; reports what it did (or would do). */
export async function movePieces(ctx: EngineContext, rec: ShardRecord, report: OptimizeReport, usable: (location: string) => boolean): Promise<void> {
  const coding = rec.coding!;
  const stale = rec.replicas.filter((r) => !usable(r.location) && r.piece !== null);
  if (!stale.length) return;
  const pieceBytes = Math.ceil(rec.storedSize / coding.k);
  let to: string[];
  if (report.dry_run) {
    const exclude = new Set(rec.replicas.map((r) => r.location));
    to = ctx.locations.candidates(pieceBytes, exclude).slice(0, stale.length).map((l) => l.name);
  } else {
    try {
      const object = await fetchShard(
        ctx,
        rec.id,
        rec.replicas,
        async (stored) => {
          if (rec.checksum !== UNVERIFIED && storedChecksum(stored) !== rec.checksum) throw new IntegrityError(`the pieces of shard ${rec.id} do not rebuild its checksum`);
          return stored;
        },
        coding,
      );
      const written = await writePieces(ctx, rec, object, 'optimize', stale.map((r) => ({ piece: r.piece!, location: r.location })));
      to = written.map((w) => w.location);
      for (const r of stale) await ctx.locations.get(r.location)?.backend.delete(pieceKey(rec.id, coding, r.piece!)).catch(() => undefined);
    } catch (err) {
      report.problems.push(`${rec.id}: ${(err as Error).message}`);
      return;
    }
  }
  report.copies_added += to.length;
  report.copies_removed += stale.length;
  report.bytes_copied += to.length * pieceBytes;
  report.moves.push({ shard_id: rec.id, from: stale.map((r) => r.location).join(','), to, reason: `piece(s) ${stale.map((r) => r.piece).join(', ')} on a disabled or removed location` });
}
