/**
 * tRPC setup: the error formatter (domain errors mapped once) and the one procedure tier, whose
 * middleware checks the permission matrix for the called path. Unknown paths are refused.
 */
import { initTRPC, TRPCError } from '@trpc/server';
import type { Context } from './context';
import { mapError, shapeFor } from './errors';
import { can } from './permissions';

const t = initTRPC.context<Context>().create({
  errorFormatter({ error, path }) {
    return shapeFor(mapError(error), path);
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Every procedure: signed in, and allowed by the matrix for its path. Refusals are audited. */
export const procedure = t.procedure.use(async ({ ctx, path, type, next }) => {
  const user = ctx.user;
  if (!user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Sign in to continue.' });
  if (!can(user.role, path)) {
    if (type === 'mutation') {
      void ctx.services
        .engine()
        .then((e) => e.audit({ actor: user.email, action: path, outcome: 'denied', details: { role: user.role } }))
        .catch(() => undefined);
    }
    throw new TRPCError({ code: 'FORBIDDEN', message: `Your role (${user.role}) may not do this (${path}); ask an admin.` });
  }
  return next({ ctx: { user } });
});
