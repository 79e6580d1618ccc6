import { procedure } from '../../init';
import { alertsApiFor } from './api';
import { byAlertId } from './schemas';

export const acknowledge = procedure.input(byAlertId).mutation(async ({ ctx, input }) => (await alertsApiFor(ctx.services)).acknowledge(input.alertId, ctx.user.email));
