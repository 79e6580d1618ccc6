import { z } from 'zod';
import { procedure } from '../../init';
import { backupId } from './schemas';

export const remove = procedure
  .input(z.object({ backupId, force: z.boolean().default(false) }))
  // kept_locked: objects a store lock (immutability) still holds; they are deleted after the lock.
  .mutation(async ({ ctx, input }) => (await ctx.services.engine()).deleteBackupReport(input.backupId, { force: input.force, actor: ctx.user.email }));
