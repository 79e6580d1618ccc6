import { z } from 'zod';
import { procedure } from '../../init';
import { userId } from './schemas';

/** Lifts the sign-in blocks on an account (from every client); audited. */
export const unlock = procedure.input(z.object({ userId })).mutation(async ({ ctx, input }) => (await ctx.services.users()).unlock(input.userId, ctx.user.email));
