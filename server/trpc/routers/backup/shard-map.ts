import { z } from 'zod';
import { procedure } from '../../init';
import { sortInput } from '../../lib/sort';
import { backupId } from './schemas';

/** What the shard map may be ordered by; `health` (the default, descending) is bad or missing replicas first. */
export const SHARD_SORT_KEYS = ['health', 'shard', 'kind', 'size', 'stored', 'codec'] as const;

export const shardMapInput = z.object({ backupId, sort: sortInput(SHARD_SORT_KEYS), limit: z.number().int().min(1).max(2000).default(500), offset: z.number().int().min(0).default(0) });

/** One page of the shard map, sorted over the whole map (ties by shard id, so pages are deterministic), with totals over the whole map. */
export const shardMap = procedure.input(shardMapInput).query(async ({ ctx, input }) => {
  const all = await (await ctx.services.engine()).getShardMap(input.backupId);
  type Shard = (typeof all)[number];
  const isBad = (s: Shard) => s.replicas.some((r) => r.state !== 'ok');
  const { key, dir } = input.sort ?? { key: 'health', dir: 'desc' };
  const value: Record<(typeof SHARD_SORT_KEYS)[number], (s: Shard) => string | number> = {
    health: (s) => (isBad(s) ? 1 : 0),
    shard: (s) => s.shard_id,
    kind: (s) => s.kind,
    size: (s) => s.plain_size,
    stored: (s) => s.stored_size,
    codec: (s) => s.compression,
  };
  const cmp = (a: string | number, b: string | number) => (a < b ? -1 : a > b ? 1 : 0);
  const sign = dir === 'asc' ? 1 : -1;
  const sorted = [...all].sort((a, b) => sign * (cmp(value[key](a), value[key](b)) || cmp(a.shard_id, b.shard_id)));
  const locations = [...new Set(all.flatMap((s) => s.replicas.map((r) => r.location)))].sort();
  return {
    total: all.length,
    bad: all.filter(isBad).length,
    locations,
    shards: sorted.slice(input.offset, input.offset + input.limit),
  };
});
