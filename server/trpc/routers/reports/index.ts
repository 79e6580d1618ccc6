import { z } from 'zod';
import { procedure, router } from '../../init';
import { alertsApiFor } from '../alerts/api';

/** The weekly health report (same as `plexichat-backup report`). */
const health = procedure.input(z.object({ days: z.number().int().min(1).max(366).default(7) }).default({ days: 7 })).query(async ({ ctx, input }) => (await alertsApiFor(ctx.services)).report(input.days));

/** Health-monitor time series: latest value of every series, and one series over the last hours. */
const metrics = procedure
  .input(z.object({ name: z.string().trim().min(1).max(100).default('storage_usage_percent'), hours: z.number().int().min(1).max(24 * 30).default(24) }).default({ name: 'storage_usage_percent', hours: 24 }))
  .query(async ({ ctx, input }) => (await alertsApiFor(ctx.services)).metrics(input.name, input.hours));

export const reportsRouter = router({ health, metrics });
