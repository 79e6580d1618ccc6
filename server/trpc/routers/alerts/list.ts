import { z } from 'zod';
import { ALERT_STATES } from '../../../monitoring/alert-store';
import { procedure } from '../../init';
import { alertsApiFor } from './api';

export const list = procedure
  .input(z.object({ states: z.array(z.enum(ALERT_STATES)).max(3).optional(), severity: z.enum(['warning', 'critical']).optional(), limit: z.number().int().min(1).max(500).default(100) }).default({ limit: 100 }))
  .query(async ({ ctx, input }) => (await alertsApiFor(ctx.services)).list(input));
