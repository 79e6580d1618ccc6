import { z } from 'zod';
import { procedure } from '../../init';
import { backupId } from './schemas';

export const remove = procedure
  .input(z.object({ backupId, force: z.boolean().default(false) }))
  .mutation(async ({ ctx, input }) => ({ deleted: await (await ctx.services.engine()).deleteBackup(input.backupId, { force: input.force, actor: ctx.user.email }) }));
