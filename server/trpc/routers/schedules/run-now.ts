import { procedure } from '../../init';
import { schedulesFor } from './api';
import { byName } from './schemas';

export const runNow = procedure.input(byName).mutation(async ({ ctx, input }) => (await schedulesFor(ctx.services)).runNow(input.name, ctx.user.email));
