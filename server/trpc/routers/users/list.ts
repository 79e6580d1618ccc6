import { procedure } from '../../init';

export const list = procedure.query(async ({ ctx }) => (await ctx.services.users()).list());
