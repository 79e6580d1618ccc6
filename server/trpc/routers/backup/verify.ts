import { z } from 'zod';
import { alertOnVerifyIfEngine } from '../../../monitoring/hooks';
import { procedure } from '../../init';
import { backupId } from './schemas';

export const verify = procedure.input(z.object({ backupId, readData: z.boolean().default(true) })).mutation(async ({ ctx, input }) => {
  const engine = await ctx.services.engine();
  const result = await engine.verifyBackup(input.backupId, { readData: input.readData, actor: ctx.user.email });
  await alertOnVerifyIfEngine(engine, result); // a verify from the console alerts like a scheduled one
  return result;
});
