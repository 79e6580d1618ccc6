import { procedure } from '../../init';
import { schedulesFor } from './api';
import { scheduleFields } from './schemas';

export const create = procedure.input(scheduleFields).mutation(async ({ ctx, input }) => (await schedulesFor(ctx.services)).create(input, ctx.user));
