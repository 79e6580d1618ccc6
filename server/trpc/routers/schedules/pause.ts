import { procedure } from '../../init';
import { schedulesFor } from './api';
import { byName } from './schemas';

export const pause = procedure.input(byName).mutation(async ({ ctx, input }) => (await schedulesFor(ctx.services)).setPaused(input.name, true, ctx.user.email));
export const resume = procedure.input(byName).mutation(async ({ ctx, input }) => (await schedulesFor(ctx.services)).setPaused(input.name, false, ctx.user.email));
