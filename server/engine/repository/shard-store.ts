/**
 * Writing shards to their replicas and reading them back with fail-over. A shard's catalog row is inserted
 * only after `replication_factor` replicas (or, erasure-coded, all k + m pieces: piece-store.ts) are durably
 * stored, so a row always means "complete data".
 */
import { randomBytes } from 'node:crypto';
import type { Cipher, Encoded } from './codec';
import type { ReplicaState, ShardRecordInput } from './shard-index';

export type { StoredShard } from './shard-index';
import { IntegrityError } from './codec';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import type { Location } from '../storage/locations';
import { shardKey } from './repository';
import { isStillRead, isStorageError, markStillRead } from '../storage/backend';
import { codingFor } from '../../config-erasure';
import { type Coding, fetchCoded, putPieces } from './piece-store';
import { splitObject } from './pieces';
import { putObject } from '../storage/object-locks';

export interface NewShard {
  backupId: string;
  contentId: string;
  securityLevel: string;
  keyId: string;
  key: Buffer | null;
  cipher: Cipher;
  kind: 'data' | 'manifest';
  plain: Buffer;
}

/** Encodes a new shard and writes it to `replication_factor` locations (or its pieces, erasure_coding); the caller records it. */
export async function storeNewShard(ctx: EngineContext, s: NewShard): Promise<ShardRecordInput> {
  const plainSize = s.plain.length;
  const id = `${s.contentId}-${randomBytes(6).toString('hex')}`;
  const enc = await ctx.pool.encode(s.plain, {
    label: s.contentId,
    keyId: s.keyId,
    key: s.key,
    cipher: s.cipher,
    compression: ctx.config.enable_compression ? ctx.config.compression_algorithm : 'none',
    level: ctx.config.compression_level,
    byClass: ctx.config.compression_config,
  });
  const storedSize = enc.stored.length; // read now: once given back, the memory may travel to a thread
  const coding = codingFor(ctx.config, s.securityLevel);
  let placement: Pick<ShardRecordInput, 'locations' | 'coding'>;
  if (coding) {
    const pieces = splitObject(id, enc.stored, coding.k, coding.m).map((bytes, index) => ({ index, bytes }));
    const placed = await putPieces(ctx, id, coding, pieces, s.backupId);
    placement = { locations: placed.map((p) => p.location), coding: { ...coding, pieces: placed.map((p) => p.piece) } };
  } else {
    placement = { locations: (await putReplicas(ctx, shardKey(id), enc.stored, s.backupId)).map((l) => l.name) };
    // Every put of it is over: its memory takes the next shard (unless a failed put may still read it).
    if (!isStillRead(enc.stored)) ctx.pool.giveBack(enc.stored);
  }
  return {
    id,
    contentId: s.contentId,
    securityLevel: s.securityLevel,
    keyId: s.keyId,
    plainSize,
    storedSize,
    checksum: enc.checksum,
    compression: enc.compression,
    kind: s.kind,
    encrypted: s.cipher !== 'none',
    ...placement,
  };
}

/**
 * Puts an object on `replication_factor` distinct locations, moving on to the next eligible location when
 * one fails. Throws the spec's "Storage location unavailable" error when the factor cannot be met.
 */
export async function putReplicas(
  ctx: EngineContext,
  key: string,
  data: Buffer,
  backupId: string,
  opts: { exclude?: Set<string>; want?: number } = {},
): Promise<Location[]> {
  const exclude = opts.exclude ?? new Set<string>();
  const want = opts.want ?? ctx.config.replication_factor;
  const candidates = ctx.locations.candidates(data.length, exclude);
  const done: Location[] = [];
  const errors: string[] = [];
  let next = 0;
  // Writes under way count towards the factor: without this, a worker that finishes first starts a write to
  // the next candidate while another is still writing, and the object ends up on more than `want` locations.
  let inFlight = 0;
  const worker = async () => {
    while (done.length + inFlight < want && next < candidates.length) {
      const loc = candidates[next++]!;
      inFlight++;
      try {
        await putObject(ctx, loc, key, data, backupId);
        ctx.locations.recordSuccess(loc, data.length);
        done.push(loc);
      } catch (err) {
        markStillRead(data);
        ctx.locations.recordFailure(loc, err);
        errors.push((err as Error).message);
        ctx.log(`write of ${key} to ${loc.name} failed: ${(err as Error).message}`);
      } finally {
        inFlight--;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, want) }, worker));
  if (done.length < want) {
    throw new EngineError(
      'UNAVAILABLE',
      `Failed to store shards for backup ${backupId}: Storage location unavailable (${done.length} of ${want} replicas written; ${errors.join('; ') || 'no location with free capacity'}). Check storage location connectivity, credentials and free space (plexichat-backup storage health).`,
    );
  }
  return done;
}

export interface ReplicaRef {
  location: string;
  state: string;
  /** The piece a location holds of an erasure-coded shard; null/absent = a whole copy. */
  piece?: number | null;
}

/**
 * Reads a shard from the first good replica, falling over to the next when one is missing, unreachable or
 * damaged. `use` turns the stored bytes into the result (it decodes, and checks the checksum against the
 * catalog's); an IntegrityError from it marks that replica bad and moves on. An erasure-coded shard
 * (`coding` set) is rebuilt from its k cheapest good pieces, read in parallel. `storedSize`: the catalog's
 * size of a whole copy, passed to the backend as a hint for its read (StorageBackend.get).
 */
export async function fetchShard<T>(ctx: EngineContext, shardId: string, replicas: ReplicaRef[], use: (stored: Buffer) => Promise<T>, coding: Coding | null = null, storedSize?: number): Promise<T> {
  if (coding) {
    const refs = replicas.map((r) => ({ location: r.location, state: r.state, piece: r.piece ?? null }));
    return use(await fetchCoded(ctx, shardId, coding, refs, null, (location, state) => markReplica(ctx, shardId, location, state)));
  }
  if (replicas.some((r) => r.piece !== null && r.piece !== undefined)) {
    throw new Error(`Shard ${shardId} is erasure-coded but was read without its coding (a bug: pass the catalog record's coding to fetchShard)`);
  }
  // Good replicas first and, among them, locations not currently failing: a location that is down is then
  // tried last instead of costing every read its full retry budget before the fail-over.
  const rank = (r: ReplicaRef) => {
    const loc = ctx.locations.get(r.location);
    return (r.state === 'ok' ? 2 : 0) + (loc && ctx.locations.healthy(loc) ? 1 : 0);
  };
  const ordered = [...replicas].sort((a, b) => rank(b) - rank(a));
  const problems: string[] = [];
  for (const r of ordered) {
    const loc = ctx.locations.get(r.location);
    if (!loc) {
      problems.push(`${r.location}: location not configured`);
      continue;
    }
    let stored: Buffer;
    try {
      stored = await loc.backend.get(shardKey(shardId), storedSize);
      ctx.locations.recordSuccess(loc);
    } catch (err) {
      if (isStorageError(err, 'not_found')) await markReplica(ctx, shardId, r.location, 'missing');
      else ctx.locations.recordFailure(loc, err);
      problems.push((err as Error).message);
      continue;
    }
    try {
      return await use(stored);
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err;
      problems.push(`Shard checksum mismatch for ${shardId} at ${r.location} (${err.message})`);
      await markReplica(ctx, shardId, r.location, 'bad');
    }
  }
  throw new IntegrityError(`Missing required shards: no readable replica of shard ${shardId} (${problems.join('; ') || 'no replicas recorded'})`);
}

export async function markReplica(ctx: EngineContext, shardId: string, location: string, state: ReplicaState): Promise<void> {
  await ctx.index.markReplica(shardId, location, state, ctx.now());
}

export type { Encoded };
