import { procedure } from '../../init';
import { resolveSuspiciousAlert } from '../../../monitoring/hooks';
import { byId } from './schemas';

/**
 * An admin acknowledges a suspicious backup (its change looked like mass encryption): retention stops
 * keeping the last good backup before it, and its suspicious_change alert is resolved. Admin only (the
 * matrix maps it to `delete`: it lets retention remove a backup it was holding). Audited by the engine.
 */
export const acknowledge = procedure.input(byId).mutation(async ({ ctx, input }) => {
  const engine = await ctx.services.engine();
  const meta = await engine.acknowledgeSuspicious(input.backupId, { actor: ctx.user.email });
  await resolveSuspiciousAlert(engine, input.backupId, ctx.user.email);
  return meta;
});
