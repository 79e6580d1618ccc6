import { z } from 'zod';
import { procedure } from '../../init';
import { userId } from './schemas';

/** Deletes an account and ends its sessions; refused on yourself and on the last enabled admin. Audited. */
export const remove = procedure.input(z.object({ userId })).mutation(async ({ ctx, input }) => (await ctx.services.users()).remove(input.userId, ctx.user.email));
