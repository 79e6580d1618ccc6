import { z } from 'zod';
import { procedure } from '../../init';
import { role, userId } from './schemas';

export const setRole = procedure
  .input(z.object({ userId, role }))
  .mutation(async ({ ctx, input }) => (await ctx.services.users()).setRole(input.userId, input.role, ctx.user.email));
