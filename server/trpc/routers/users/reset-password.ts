import { z } from 'zod';
import { MIN_PASSWORD_LENGTH } from '../../../auth/password';
import { procedure } from '../../init';
import { userId } from './schemas';

/** Sets a user's password; every session of that user ends (the admin's own too, when resetting their own). */
export const resetPassword = procedure
  .input(z.object({ userId, password: z.string().min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`).max(1024) }))
  .mutation(async ({ ctx, input }) => (await ctx.services.users()).setPassword(input.userId, input.password, ctx.user.email));
