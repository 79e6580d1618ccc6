import { procedure } from '../../init';
import { alertsApiFor } from './api';
import { alertSettingsInput } from './schemas';

/** Channels and thresholds in force (secrets masked) and where they come from. Admins only. */
export const settings = procedure.query(async ({ ctx }) => (await alertsApiFor(ctx.services)).settings());

/** Saves channels and thresholds in the catalog; every process applies them within seconds. Secrets left masked keep their value. */
export const updateSettings = procedure.input(alertSettingsInput).mutation(async ({ ctx, input }) => (await alertsApiFor(ctx.services)).updateSettings(input, ctx.user.email));

/** Forgets the console's settings: the configuration file's `alerts` key applies again. */
export const resetSettings = procedure.mutation(async ({ ctx }) => (await alertsApiFor(ctx.services)).resetSettings(ctx.user.email));

export const sendTest = procedure.mutation(async ({ ctx }) => (await alertsApiFor(ctx.services)).sendTest(ctx.user.email));
