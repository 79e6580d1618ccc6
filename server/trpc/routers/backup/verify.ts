import { z } from 'zod';
import { procedure } from '../../init';
import { backupId } from './schemas';

export const verify = procedure
  .input(z.object({ backupId, readData: z.boolean().default(true) }))
  .mutation(async ({ ctx, input }) => (await ctx.services.engine()).verifyBackup(input.backupId, { readData: input.readData, actor: ctx.user.email }));
