import { z } from 'zod';
import { procedure } from '../../init';
import { userId } from './schemas';

/** Disables (or, with disabled: false, re-enables) an account. Its sessions stop working at once. */
export const disable = procedure
  .input(z.object({ userId, disabled: z.boolean().default(true) }))
  .mutation(async ({ ctx, input }) => (await ctx.services.users()).setDisabled(input.userId, input.disabled, ctx.user.email));
