import { procedure } from '../../init';
import { allowedProcedures } from '../../permissions';

/** Who is signed in and which procedures their role may call (the console hides the rest). */
export const me = procedure.query(({ ctx }) => ({ ...ctx.user, allowed: allowedProcedures(ctx.user.role) }));
