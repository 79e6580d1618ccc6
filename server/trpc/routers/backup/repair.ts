import { procedure } from '../../init';
import { byId } from './schemas';

export const repair = procedure.input(byId).mutation(async ({ ctx, input }) => (await ctx.services.engine()).repairBackup(input.backupId, { actor: ctx.user.email }));
