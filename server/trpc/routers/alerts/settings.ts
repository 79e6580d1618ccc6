import { procedure } from '../../init';
import { alertsApiFor } from './api';

/** Channels and thresholds as configured (secrets masked). Admins only. */
export const settings = procedure.query(async ({ ctx }) => (await alertsApiFor(ctx.services)).settings());

export const sendTest = procedure.mutation(async ({ ctx }) => (await alertsApiFor(ctx.services)).sendTest(ctx.user.email));
