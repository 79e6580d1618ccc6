/**
 * The full check of one stored shard object: its trailer checksum, its header, decryption under a data key
 * of the backup's security level (or, only where the repository allows it, no encryption), decompression,
 * and its content id recomputed from the plaintext. An object that passes holds exactly the data its name
 * promises; this is what makes an imported shard a dedup target.
 */
import { IntegrityError, readHeader } from './codec';
import type { EngineContext } from '../context';
import { contentIdKey } from '../keys/keys';
import type { SecurityLevel } from '../types';

/** The catalog's checksum of a shard imported from storage whose content has not been checked yet. */
export const UNVERIFIED = '';

export interface CheckedShard {
  plainSize: number;
  storedSize: number;
  checksum: string;
  keyId: string;
  compression: string;
  plain: Buffer;
}

export interface CheckOptions {
  level: SecurityLevel;
  /** The data key named by a header, if it is a key of this repository at this level; null otherwise. */
  keyFor: (keyId: string) => Promise<Buffer | null>;
  allowPlain: boolean;
  expectedChecksum?: string;
}

/** The content id a shard name promises (its part before the random suffix). */
export const contentIdOf = (shardId: string) => shardId.slice(0, shardId.lastIndexOf('-'));

export async function checkShardObject(ctx: EngineContext, shardId: string, stored: Buffer, o: CheckOptions): Promise<CheckedShard> {
  // Read before the bytes are transferred to a worker (afterwards the buffer is empty).
  const storedSize = stored.length;
  const header = readHeader(stored);
  const checksum = stored.subarray(stored.length - 32).toString('hex');
  const key = header.cipher === 'none' ? null : await o.keyFor(header.keyId);
  if (header.cipher !== 'none' && !key) throw new IntegrityError(`shard ${shardId} names data key ${header.keyId}, which is not a ${o.level} key of this repository`);
  const cid = contentIdOf(shardId);
  const decoded = await ctx.pool.decode(stored, cid, key ? { [header.keyId]: key } : {}, { expectedChecksum: o.expectedChecksum, allowPlain: o.allowPlain });
  const { cid: actual, data: plain } = await ctx.pool.contentId(decoded, contentIdKey(ctx.idKey, o.level));
  if (actual !== cid) throw new IntegrityError(`content id mismatch: shard ${shardId} does not hold the data its name promises (planted or tampered object)`);
  return { plainSize: plain.length, storedSize, checksum, keyId: header.keyId, compression: header.compression, plain };
}
