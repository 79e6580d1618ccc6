/**
 * Console-managed storage locations (admin only, see permissions.ts). Credentials are accepted but never
 * returned: listings are masked. Changes take effect when the engine next opens (the server restarts).
 */
import { z } from 'zod';
import { procedure } from '../../init';
import { locationsFor } from './locations-api';

const name = z.string().trim().min(1).max(63);
const value = z.union([z.string(), z.number(), z.boolean(), z.null()]);
const location = z
  .object({
    name,
    type: z.enum(['local', 's3', 'azure', 'gcs']),
    priority: z.number().int().min(0).max(1000).optional(),
    region: z.string().trim().min(1).max(100).optional(),
    max_size_gb: z.number().positive().nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .catchall(value);

export const listLocations = procedure.query(async ({ ctx }) => (await locationsFor(ctx.services)).list());

export const addLocation = procedure.input(location).mutation(async ({ ctx, input }) => (await locationsFor(ctx.services)).add(input, ctx.user.email));

export const updateLocation = procedure
  .input(z.object({ name, patch: location.partial().omit({ name: true }) }))
  .mutation(async ({ ctx, input }) => (await locationsFor(ctx.services)).update(input.name, input.patch, ctx.user.email));

export const testLocation = procedure
  .input(z.union([z.object({ name }), z.object({ location })]))
  .mutation(async ({ ctx, input }) => (await locationsFor(ctx.services)).test(input));

export const disableLocation = procedure
  .input(z.object({ name, disabled: z.boolean().default(true) }))
  .mutation(async ({ ctx, input }) => {
    await (await locationsFor(ctx.services)).setEnabled(input.name, !input.disabled, ctx.user.email);
    return { name: input.name, enabled: !input.disabled };
  });
