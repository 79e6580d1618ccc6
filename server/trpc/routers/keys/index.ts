import { z } from 'zod';
import { procedure, router } from '../../init';

/** The master key in force (fingerprint only), its age against key_rotation_days, data keys per master. Admins. */
const status = procedure.query(async ({ ctx }) => (await ctx.services.engine()).keyStatus());

/** Key escrow: the master keys sealed to an escrow holder's RSA public key (PEM). The package holds no key in clear. Admins. */
const escrow = procedure
  .input(z.object({ publicKeyPem: z.string().trim().min(100, 'paste an RSA public key in PEM form').max(20_000) }))
  .mutation(async ({ ctx, input }) => (await ctx.services.engine()).exportKeyEscrow(input.publicKeyPem, { actor: ctx.user.email }));

export const keysRouter = router({ status, escrow });
