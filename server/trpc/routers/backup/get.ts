import { TRPCError } from '@trpc/server';
import { procedure } from '../../init';
import { byId } from './schemas';

export const get = procedure.input(byId).query(async ({ ctx, input }) => {
  const backup = await (await ctx.services.engine()).getBackup(input.backupId);
  if (!backup) throw new TRPCError({ code: 'NOT_FOUND', message: `Backup ${input.backupId} not found; it may have been deleted.` });
  return backup;
});
