import { procedure } from '../../init';
import { allowedProcedures } from '../../permissions';
import { pathPolicyView } from '../../services/path-policy';

/**
 * Who is signed in, which procedures their role may call (the console hides the rest), and where they may
 * back up from and restore to (`pathPolicy`: roots, null when not limited by a list; whether they may overwrite).
 */
export const me = procedure.query(async ({ ctx }) => ({ ...ctx.user, allowed: allowedProcedures(ctx.user.role), pathPolicy: await pathPolicyView(ctx.services, ctx.user.role) }));
