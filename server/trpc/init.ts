/**
 * tRPC setup: the error formatter (domain errors mapped once) and the one procedure tier, whose
 * middleware checks the permission matrix for the called path, then the raw input's text (NUL, lone
 * surrogates, control characters: a 400 naming the field, before validation and before anything is
 * written). Unknown paths are refused.
 */
import { initTRPC, TRPCError } from '@trpc/server';
import { findUnsafeText, unsafeTextMessage } from '../http/text-rules';
import type { Context } from './context';
import { errorIdOf, mapError, shapeFor } from './errors';
import { can } from './permissions';

const t = initTRPC.context<Context>().create({
  errorFormatter({ error, path }) {
    const mapped = mapError(error);
    return shapeFor(mapped, path, mapped.unexpected ? errorIdOf(error) : undefined);
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** Every procedure: signed in, and allowed by the matrix for its path. Refusals are audited. */
export const procedure = t.procedure.use(async ({ ctx, path, type, next, getRawInput }) => {
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
  const unsafe = findUnsafeText(await getRawInput());
  if (unsafe) throw new TRPCError({ code: 'BAD_REQUEST', message: unsafeTextMessage(unsafe) });
  return next({ ctx: { user } });
});
