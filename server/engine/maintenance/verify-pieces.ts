/**
 * Verify and repair of erasure-coded shards (repository/pieces.ts), piece by piece. A shard is healthy with
 * all k + m pieces good, degraded (the lost pieces named) with at least k, lost below k. With read-data the
 * object is rebuilt from k pieces that give back the catalog's object, and every other piece is compared
 * with what that object encodes to, so a piece forged with a valid piece checksum is found too.
 */
import type { ShardRecord } from '../catalog/catalog';
import type { EngineContext } from '../context';
import { IntegrityError, storedChecksum } from '../repository/codec';
import { UNVERIFIED, type CheckedShard } from '../repository/content-check';
import { putPieces } from '../repository/piece-store';
import { markReplica } from '../repository/shard-store';
import { type Piece, joinPieces, readPiece, splitObject } from '../repository/pieces';
import { pieceKey } from '../repository/repository';
import { isStorageError } from '../storage/backend';
import type { BadReplica } from '../types';

/** At most this many k-piece combinations are tried to find the pieces that rebuild the object. */
const MAX_COMBINATIONS = 64;

export interface PieceCheck {
  bad: BadReplica[];
  /** Locations whose piece is good. */
  good: string[];
  /** The rebuilt stored object, when read-data (or a repair) rebuilt it and it checked out. */
  object: Buffer | null;
  /** The full content check of an unverified shard (read-data), for the catalog. */
  checked: CheckedShard | null;
}

/** k-subsets of `indices` in order (data pieces first), at most `limit` of them. */
function* combinations(indices: number[], k: number, limit: number): Generator<number[]> {
  let n = 0;
  const walk = function* (start: number, acc: number[]): Generator<number[]> {
    if (acc.length === k) {
      n++;
      yield acc;
      return;
    }
    for (let i = start; i < indices.length && n < limit; i++) yield* walk(i + 1, [...acc, indices[i]!]);
  };
  yield* walk(0, []);
}

/**
 * Reads and checks every piece of a coded shard. `rebuild`: also rebuild the object (read-data, repair);
 * `accept` decides whether a rebuilt object is the right one (default: the catalog's checksum).
 */
export async function checkPieces(ctx: EngineContext, rec: ShardRecord, opts: { rebuild: boolean; accept?: (stored: Buffer) => Promise<CheckedShard | true> }): Promise<PieceCheck> {
  const { k, m } = rec.coding!;
  const out: PieceCheck = { bad: [], good: [], object: null, checked: null };
  const found = new Map<number, { raw: Buffer; piece: Piece; location: string }>();
  await Promise.all(
    rec.replicas.map(async (rep) => {
      const base = { shard_id: rec.id, location: rep.location, ...(rep.piece === null ? {} : { piece: rep.piece }) };
      const name = `Piece ${rep.piece ?? '?'} of shard ${rec.id}`;
      const loc = ctx.locations.get(rep.location);
      if (!loc || rep.piece === null) {
        out.bad.push({ ...base, problem: 'unreadable', message: `${name} is at ${rep.location}, which is no longer configured` });
        return;
      }
      try {
        const raw = await loc.backend.get(pieceKey(rec.id, rec.coding!, rep.piece));
        found.set(rep.piece, { raw, piece: readPiece(raw, { objectId: rec.id, k, m, index: rep.piece }), location: rep.location });
      } catch (err) {
        if (isStorageError(err, 'not_found')) out.bad.push({ ...base, problem: 'missing', message: `${name} is missing at ${rep.location}` });
        else if (err instanceof IntegrityError) out.bad.push({ ...base, problem: 'checksum_mismatch', message: `${name} at ${rep.location} is damaged: ${err.message}` });
        else out.bad.push({ ...base, problem: 'unreadable', message: `${name} unreadable at ${rep.location}: ${(err as Error).message}` });
      }
    }),
  );
  const held = new Set(rec.replicas.map((r) => r.piece));
  for (let i = 0; i < k + m; i++) {
    if (!held.has(i)) out.bad.push({ shard_id: rec.id, location: '*', piece: i, problem: 'missing', message: `Piece ${i} of shard ${rec.id} is on no location` });
  }
  if (!opts.rebuild || found.size < k) {
    out.good = [...found.values()].map((f) => f.location);
    return out;
  }
  // An unverified shard (imported from storage) has no catalog checksum yet: the pieces' own SHA-256 decides.
  const accept = opts.accept ?? (async (stored: Buffer) => (rec.checksum === UNVERIFIED || storedChecksum(stored) === rec.checksum ? (true as const) : Promise.reject(new IntegrityError('checksum mismatch'))));
  for (const subset of combinations([...found.keys()].sort((a, b) => a - b), k, MAX_COMBINATIONS)) {
    let object: Buffer;
    try {
      object = joinPieces(subset.map((i) => found.get(i)!.piece));
      const verdict = await accept(object);
      if (verdict !== true) out.checked = verdict;
    } catch (err) {
      if (err instanceof IntegrityError) continue;
      throw err;
    }
    out.object = object;
    const expected = splitObject(rec.id, object, k, m);
    for (const [i, f] of found) {
      if (expected[i]!.equals(f.raw)) out.good.push(f.location);
      else out.bad.push({ shard_id: rec.id, location: f.location, piece: i, problem: 'checksum_mismatch', message: `Piece ${i} of shard ${rec.id} at ${f.location} does not match the object the other pieces rebuild` });
    }
    return out;
  }
  out.bad.push({ shard_id: rec.id, location: '*', problem: 'decrypt_failed', message: `No ${k} of the ${found.size} readable pieces of shard ${rec.id} rebuild the object the catalog knows` });
  return out;
}

/**
 * Re-creates the lost or damaged pieces of a coded shard from any k good ones (writePieces). Returns where
 * pieces were written; throws IntegrityError when fewer than k good pieces are left.
 */
export async function repairPieces(ctx: EngineContext, rec: ShardRecord, backupId: string): Promise<WrittenPiece[]> {
  const check = await checkPieces(ctx, rec, { rebuild: true });
  if (!check.object) throw new IntegrityError(`shard ${rec.id} has fewer than ${rec.coding!.k} good pieces: ${check.bad.map((b) => b.message).join('; ')}`);
  const which = check.bad.filter((b) => b.piece !== undefined).map((b) => ({ piece: b.piece!, location: b.location === '*' || b.problem === 'unreadable' ? null : b.location }));
  return writePieces(ctx, rec, check.object, backupId, which);
}

export interface WrittenPiece {
  location: string;
  piece: number;
}

/**
 * Writes pieces of `object` (the shard's stored object): each where `which` says when that location is
 * enabled and takes the write, else on a location holding no piece of the shard yet. The replica rows follow
 * (a piece that moved leaves its old row).
 */
export async function writePieces(ctx: EngineContext, rec: ShardRecord, object: Buffer, backupId: string, which: { piece: number; location: string | null }[]): Promise<WrittenPiece[]> {
  const pieces = splitObject(rec.id, object, rec.coding!.k, rec.coding!.m);
  const out: WrittenPiece[] = [];
  const elsewhere: { index: number; bytes: Buffer; from: string | null }[] = [];
  for (const w of which) {
    const loc = w.location ? ctx.locations.get(w.location) : undefined;
    if (loc?.config.enabled) {
      try {
        await loc.backend.put(pieceKey(rec.id, rec.coding!, w.piece), pieces[w.piece]!);
        ctx.locations.recordSuccess(loc, pieces[w.piece]!.length);
        await markReplica(ctx, rec.id, loc.name, 'ok');
        out.push({ location: loc.name, piece: w.piece });
        continue;
      } catch (err) {
        ctx.locations.recordFailure(loc, err);
        ctx.log(`writing piece ${w.piece} of ${rec.id} to ${loc.name} failed: ${(err as Error).message}`);
      }
    }
    elsewhere.push({ index: w.piece, bytes: pieces[w.piece]!, from: w.location });
  }
  if (!elsewhere.length) return out;
  // Never a second piece on a location that has (or had) one: losing that location must cost one piece only.
  const holders = new Set(rec.replicas.map((r) => r.location));
  for (const p of await putPieces(ctx, rec.id, rec.coding!, elsewhere, backupId, holders)) {
    const from = elsewhere.find((e) => e.index === p.piece)!.from;
    await ctx.index.addReplica(rec.id, p.location, ctx.now(), { piece: p.piece, replaces: from });
    out.push(p);
  }
  return out;
}
