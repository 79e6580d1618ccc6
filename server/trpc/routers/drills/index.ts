/**
 * Restore drills from the console: `drills.list` for everyone who may view (the dashboard's last drill per
 * source and RTO trend, the backup page), `drills.run` for operators and admins (the 'verify' action: a
 * drill is a verify that restores). A failed drill is a result (status 'failed'), not an error.
 */
import { z } from 'zod';
import { alertOnDrillIfEngine } from '../../../monitoring/hooks';
import { procedure, router } from '../../init';
import { backupId } from '../backup/schemas';

const run = procedure
  .input(z.object({ backupId, samplePercent: z.number().gt(0).max(100).optional() }))
  .mutation(async ({ ctx, input }) => {
    const engine = await ctx.services.engine();
    const result = await engine.runDrill({ backupId: input.backupId, samplePercent: input.samplePercent, actor: ctx.user.email });
    await alertOnDrillIfEngine(engine, result); // alerts like a scheduled drill
    return result;
  });

const list = procedure
  .input(z.object({ backupId: backupId.optional(), limit: z.number().int().min(1).max(1000).default(200) }).default({ limit: 200 }))
  .query(async ({ ctx, input }) => (await ctx.services.engine()).listDrills({ backupId: input.backupId, limit: input.limit }));

export const drillsRouter = router({ run, list });
