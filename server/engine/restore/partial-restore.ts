/**
 * Partial restore planning (`restore --allow-partial`, the spec's allow_partial_recovery,
 * minimum_shard_threshold and repair_missing_shards). Before anything is written, every data shard the
 * selection needs is checked cheaply: a catalog row, and a replica that storage lists (stat). Shards with
 * none are lost; with repair_missing_shards (default on) they are first re-created where possible
 * (shard-rebuild.ts). Below the threshold the restore is refused; otherwise restore.ts skips exactly the
 * files whose extents touch a lost shard. A shard that fails its checks while being read counts as lost too.
 */
import type { BackupRow } from '../catalog/catalog';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import { forEachLimit } from '../for-each-limit';
import type { ManifestEntry } from '../repository/manifest';
import { shardKey } from '../repository/repository';
import { recreateLostShards, type Recreated } from '../maintenance/shard-rebuild';
import type { ShardReader } from './shard-reader';
import type { RestoreOptions } from '../types';

export const DEFAULT_MIN_SHARD_THRESHOLD = 0.8;

export interface PartialPlan {
  needed: Set<string>;
  lost: Set<string>;
  recreated: Recreated[];
}

/** Shards of `ids` with no replica storage can show (missing row, no configured location, or not listed). */
export async function unreadableShards(ctx: EngineContext, reader: ShardReader, ids: string[]): Promise<Set<string>> {
  const lost = new Set<string>();
  await forEachLimit(ids, 8, async (id) => {
    const rec = reader.record(id);
    for (const rep of rec?.replicas ?? []) {
      const loc = ctx.locations.get(rep.location);
      if (!loc) continue;
      const info = await loc.backend.stat(shardKey(id)).catch(() => null);
      if (info && (rec!.storedSize <= 0 || info.size === rec!.storedSize)) return;
    }
    lost.add(id);
  });
  return lost;
}

export function readableFraction(needed: number, lost: number): number {
  return needed === 0 ? 1 : Math.floor(((needed - lost) / needed) * 10_000) / 10_000;
}

const pct = (f: number) => `${Math.round(f * 1000) / 10}%`;

/** Checks the needed shards, re-creates lost ones when asked, and refuses below the threshold. */
export async function planPartial(ctx: EngineContext, row: BackupRow, reader: ShardReader, neededIds: string[], opts: RestoreOptions): Promise<PartialPlan> {
  const threshold = opts.minShardThreshold ?? DEFAULT_MIN_SHARD_THRESHOLD;
  if (!(threshold >= 0 && threshold <= 1)) throw new EngineError('INVALID', `The minimum shard threshold must be between 0 and 1 (got ${threshold}).`);
  const needed = new Set(neededIds);
  let lost = await unreadableShards(ctx, reader, [...needed]);
  let recreated: Recreated[] = [];
  if (lost.size && opts.repairMissingShards !== false) {
    recreated = await recreateLostShards(ctx, row, reader, [...lost]);
    if (recreated.length) {
      const ids = recreated.map((r) => r.shard_id);
      reader.forget(ids);
      await reader.load(ids);
      for (const id of ids) lost.delete(id);
      lost = new Set([...lost, ...(await unreadableShards(ctx, reader, ids))]);
    }
  }
  const fraction = readableFraction(needed.size, lost.size);
  if (fraction < threshold) {
    throw new EngineError(
      'INTEGRITY',
      `Refusing a partial restore of backup ${row.id}: only ${pct(fraction)} of the shards it needs are readable (${needed.size - lost.size} of ${needed.size}), below the minimum shard threshold of ${pct(threshold)}. ` +
        `Run \`plexichat-backup repair ${row.id}\`, or lower --min-shard-threshold to restore what is left.`,
      { readable_fraction: fraction, minimum_shard_threshold: threshold, lost_shards: [...lost].sort() },
    );
  }
  return { needed, lost, recreated };
}

/** The lost shards a file's extents touch. */
export function lostShardsOf(e: ManifestEntry | undefined, chunkIds: string[], lost: Set<string>): string[] {
  const out = new Set<string>();
  for (const [k] of e?.x ?? []) {
    const id = chunkIds[k];
    if (id !== undefined && lost.has(id)) out.add(id);
  }
  return [...out].sort();
}
