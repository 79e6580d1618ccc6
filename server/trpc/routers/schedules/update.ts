import { z } from 'zod';
import { procedure } from '../../init';
import { schedulesFor } from './api';
import { scheduleFields, scheduleName } from './schemas';

export const update = procedure
  .input(z.object({ name: scheduleName, schedule: scheduleFields }))
  .mutation(async ({ ctx, input }) => (await schedulesFor(ctx.services)).update(input.name, input.schedule, ctx.user));
