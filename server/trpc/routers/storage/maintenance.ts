import { z } from 'zod';
import { procedure } from '../../init';

const run = z.object({ dryRun: z.boolean().default(true) }).default({ dryRun: true });

/** storage optimize: restores the placement policy (replicas on disabled/removed/over-capacity locations, single-region shards). A dry run by default. */
export const optimize = procedure.input(run).mutation(async ({ ctx, input }) => {
  const r = await (await ctx.services.engine()).optimizeStorage({ dryRun: input.dryRun, actor: ctx.user.email });
  // Moves are summarised: a repository can have millions.
  return { ...r, moves: r.moves.slice(0, 50), moves_total: r.moves.length };
});

/** storage gc: marks objects the catalog does not know, deletes those an earlier run marked. A dry run by default. */
export const gc = procedure.input(run).mutation(async ({ ctx, input }) => {
  const r = await (await ctx.services.engine()).sweepOrphans({ dryRun: input.dryRun, actor: ctx.user.email });
  return { ...r, locations: r.locations.map((l) => ({ ...l, objects: l.objects.slice(0, 20) })) };
});
