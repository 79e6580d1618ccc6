import { procedure } from '../../init';

export const usage = procedure.query(async ({ ctx }) => (await ctx.services.engine()).getStorageUsage());
