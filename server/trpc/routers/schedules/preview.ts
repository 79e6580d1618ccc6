import { z } from 'zod';
import { procedure } from '../../init';
import { schedulesFor } from './api';

/** The next runs of a cron expression (the form's live preview); an invalid one returns its error. */
export const preview = procedure
  .input(z.object({ cron: z.string().max(200), timezone: z.string().max(64).default('UTC'), count: z.number().int().min(1).max(20).default(5) }))
  .query(async ({ ctx, input }) => (await schedulesFor(ctx.services)).preview(input.cron, input.timezone, input.count));
