import { z } from 'zod';
import { procedure } from '../../init';
import { backupId } from './schemas';

export const shardMapInput = z.object({ backupId, limit: z.number().int().min(1).max(2000).default(500), offset: z.number().int().min(0).default(0) });

/** One page of the shard map, with totals over the whole map (bad replicas first, so they are seen). */
export const shardMap = procedure.input(shardMapInput).query(async ({ ctx, input }) => {
  const all = await (await ctx.services.engine()).getShardMap(input.backupId);
  const isBad = (s: (typeof all)[number]) => s.replicas.some((r) => r.state !== 'ok');
  const sorted = [...all.filter(isBad), ...all.filter((s) => !isBad(s))];
  const locations = [...new Set(all.flatMap((s) => s.replicas.map((r) => r.location)))].sort();
  return {
    total: all.length,
    bad: all.filter(isBad).length,
    locations,
    shards: sorted.slice(input.offset, input.offset + input.limit),
  };
});
