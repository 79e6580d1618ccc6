import { procedure } from '../../init';

export const health = procedure.query(async ({ ctx }) => (await ctx.services.engine()).getStorageHealth());
