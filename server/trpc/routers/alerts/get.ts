import { procedure } from '../../init';
import { alertsApiFor } from './api';
import { byAlertId } from './schemas';

export const get = procedure.input(byAlertId).query(async ({ ctx, input }) => (await alertsApiFor(ctx.services)).get(input.alertId));
