/**
 * Erasure-coded shards in storage: their k + m pieces (pieces.ts) written each to its own location, and read
 * back — the k cheapest healthy pieces in parallel, more when one is missing or damaged — into the stored
 * object. A shard's replica rows name which piece each location holds (shard_replicas.piece).
 */
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import type { Location } from '../storage/locations';
import { isStorageError } from '../storage/backend';
import { IntegrityError, storedChecksum } from './codec';
import { type Piece, joinPieces, readPiece } from './pieces';
import { pieceKey } from './repository';
import { putObject } from '../storage/object-locks';

export interface Coding {
  k: number;
  m: number;
}

export interface PieceRef {
  location: string;
  state: string;
  piece: number | null;
}

export interface PiecePlacement {
  location: string;
  piece: number;
}

/**
 * Puts each piece on a location of its own (placement order: candidates() — healthy, priority, spread over
 * regions — so data pieces, read first, land on the best locations), moving on to the next candidate when
 * a write fails. Locations in `exclude` (already holding a piece of the object) are never used. When a piece
 * cannot be placed, the pieces written by this call are removed again and the call throws.
 */
export async function putPieces(
  ctx: EngineContext,
  shardId: string,
  coding: Coding,
  pieces: { index: number; bytes: Buffer }[],
  backupId: string,
  exclude: Set<string> = new Set(),
): Promise<PiecePlacement[]> {
  const size = Math.max(0, ...pieces.map((p) => p.bytes.length));
  const candidates = ctx.locations.candidates(size, exclude);
  const todo = [...pieces];
  const done: (PiecePlacement & { loc: Location })[] = [];
  const failed: number[] = [];
  const errors: string[] = [];
  let next = 0;
  const worker = async () => {
    for (let p = todo.shift(); p; p = todo.shift()) {
      let placed = false;
      while (!placed && next < candidates.length) {
        const loc = candidates[next++]!;
        try {
          await putObject(ctx, loc, pieceKey(shardId, coding, p.index), p.bytes, backupId);
          ctx.locations.recordSuccess(loc, p.bytes.length);
          done.push({ location: loc.name, piece: p.index, loc });
          placed = true;
        } catch (err) {
          ctx.locations.recordFailure(loc, err);
          errors.push(`${loc.name}: ${(err as Error).message}`);
          ctx.log(`write of piece ${p.index} of ${shardId} to ${loc.name} failed: ${(err as Error).message}`);
        }
      }
      if (!placed) failed.push(p.index);
    }
  };
  await Promise.all(pieces.map(worker));
  if (failed.length) {
    await Promise.all(done.map((d) => d.loc.backend.delete(pieceKey(shardId, coding, d.piece)).catch(() => undefined)));
    throw new EngineError(
      'UNAVAILABLE',
      `Failed to store shards for backup ${backupId}: Storage location unavailable (erasure coding needs each of ${pieces.length} pieces on its own location; ${failed.length} could not be placed: ${errors.join('; ') || 'no further enabled location with free capacity'}). Check storage location connectivity, credentials and free space (plexichat-backup storage health), or lower erasure_coding.`,
    );
  }
  return done.map(({ location, piece }) => ({ location, piece }));
}

/**
 * Cheapest first: pieces not known bad, on healthy locations, local before cloud, data pieces before parity
 * (k data pieces need no reconstruction), then by the location's priority.
 */
function readOrder(ctx: EngineContext, refs: PieceRef[], k: number): PieceRef[] {
  const cost = (r: PieceRef) => {
    const loc = ctx.locations.get(r.location);
    if (!loc) return [3, 0, 0, 0];
    return [r.state === 'ok' ? 0 : 1, ctx.locations.healthy(loc) ? 0 : 1, loc.config.type === 'local' ? 0 : 1, (r.piece ?? 0) < k ? 0 : 1, loc.config.priority];
  };
  const costs = new Map(refs.map((r) => [r, cost(r)]));
  return [...refs].sort((a, b) => {
    const ca = costs.get(a)!;
    const cb = costs.get(b)!;
    for (let i = 0; i < ca.length; i++) if (ca[i] !== cb[i]) return ca[i]! - cb[i]!;
    return 0;
  });
}

export interface PieceReadResult {
  pieces: Piece[];
  /** Pieces that could not be used, with why (missing, unreadable, damaged). */
  problems: { location: string; piece: number | null; problem: 'missing' | 'unreadable' | 'bad'; message: string }[];
}

/**
 * Reads `want` good pieces (k by default), `want` at a time in parallel, reading one more for each that is
 * missing or damaged, until `want` are good or none is left.
 */
export async function readPieces(ctx: EngineContext, shardId: string, coding: Coding, refs: PieceRef[], want = coding.k): Promise<PieceReadResult> {
  const order = readOrder(ctx, refs, coding.k);
  const out: PieceReadResult = { pieces: [], problems: [] };
  let next = 0;
  const worker = async () => {
    while (out.pieces.length < want && next < order.length) {
      const ref = order[next++]!;
      const loc = ctx.locations.get(ref.location);
      const at = { location: ref.location, piece: ref.piece };
      if (!loc || ref.piece === null) {
        out.problems.push({ ...at, problem: 'unreadable', message: `piece ${ref.piece ?? '?'} of ${shardId} is at ${ref.location}, which is no longer configured` });
        continue;
      }
      let buf: Buffer;
      try {
        buf = await loc.backend.get(pieceKey(shardId, coding, ref.piece));
        ctx.locations.recordSuccess(loc);
      } catch (err) {
        const missing = isStorageError(err, 'not_found');
        if (!missing) ctx.locations.recordFailure(loc, err);
        out.problems.push({ ...at, problem: missing ? 'missing' : 'unreadable', message: `piece ${ref.piece} of ${shardId} ${missing ? 'is missing at' : 'unreadable at'} ${ref.location}${missing ? '' : `: ${(err as Error).message}`}` });
        continue;
      }
      try {
        out.pieces.push(readPiece(buf, { objectId: shardId, k: coding.k, m: coding.m, index: ref.piece }));
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw err;
        out.problems.push({ ...at, problem: 'bad', message: `piece ${ref.piece} of ${shardId} at ${ref.location} is damaged: ${err.message}` });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(want, order.length) || 1 }, worker));
  return out;
}

/**
 * The stored object of an erasure-coded shard, rebuilt from any k pieces and checked against the catalog's
 * checksum (`checksum` null: not known yet, the caller checks the content); `mark` records the pieces found
 * missing or damaged. Throws IntegrityError naming
 * what was found when fewer than k good pieces are left.
 */
export async function fetchCoded(
  ctx: EngineContext,
  shardId: string,
  coding: Coding,
  refs: PieceRef[],
  checksum: string | null,
  mark: (location: string, state: 'missing' | 'bad') => Promise<void>,
): Promise<Buffer> {
  const { pieces, problems } = await readPieces(ctx, shardId, coding, refs);
  for (const p of problems) if (p.problem !== 'unreadable') await mark(p.location, p.problem);
  if (pieces.length < coding.k) {
    throw new IntegrityError(
      `Missing required shards: shard ${shardId} (erasure-coded ${coding.k}+${coding.m}) has ${pieces.length} readable piece(s) of the ${coding.k} needed (${problems.map((p) => p.message).join('; ') || 'no pieces recorded'})`,
    );
  }
  const stored = joinPieces(pieces);
  if (checksum !== null && storedChecksum(stored) !== checksum) throw new IntegrityError(`Shard checksum mismatch for ${shardId}: its pieces rebuild an object the catalog does not know`);
  return stored;
}
