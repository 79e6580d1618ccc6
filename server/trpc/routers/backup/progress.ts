import { TRPCError } from '@trpc/server';
import { procedure } from '../../init';
import { byId } from './schemas';

export const progress = procedure.input(byId).query(async ({ ctx, input }) => {
  const p = await (await ctx.services.engine()).getBackupProgress(input.backupId);
  if (!p) throw new TRPCError({ code: 'NOT_FOUND', message: `Backup ${input.backupId} not found; it may have been deleted.` });
  return p;
});
