import { z } from 'zod';
import { watchRestore } from '../../../monitoring/hooks';
import { procedure } from '../../init';
import { backupId } from './schemas';

export const recoverInput = z.object({
  backupId,
  /** A directory on the server. */
  target: z.string().trim().min(1, 'give a target directory on the server').max(4096),
  include: z.array(z.string().trim().min(1).max(1024)).max(100).default([]),
  overwrite: z.boolean().default(false),
});

/** Restores a backup (or the files matching `include`) into a directory on the server. */
export const recover = procedure.input(recoverInput).mutation(async ({ ctx, input }) => {
  const engine = await ctx.services.engine();
  return watchRestore(engine, input.backupId, () =>
    engine.restoreBackup(input.backupId, {
      target: input.target,
      include: input.include.length ? input.include : undefined,
      overwrite: input.overwrite,
      actor: ctx.user.email,
    }),
  );
});
