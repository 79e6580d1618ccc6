import { z } from 'zod';
import { procedure } from '../../init';
import { alertsApiFor } from './api';

/** Open alerts by severity over the last hours (the dashboard's alerts chart); any signed-in role. */
export const history = procedure
  .input(z.object({ hours: z.number().int().min(1).max(24 * 90).default(24 * 7) }).default({ hours: 24 * 7 }))
  .query(async ({ ctx, input }) => (await alertsApiFor(ctx.services)).history(input.hours));
