/**
 * Restore jobs on record (restore_jobs), for everyone who may view backups: the Restores page and the
 * backup page's list. Starting one is `backup.recover` (operators and admins).
 */
import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { RESTORE_SORT_KEYS } from '../../../engine/restore/restore-jobs';
import { procedure, router } from '../../init';
import { sortInput } from '../../lib/sort';
import { backupId } from '../backup/schemas';

const list = procedure
  .input(
    z
      .object({
        backupId: backupId.optional(),
        status: z.enum(['queued', 'running', 'completed', 'failed']).optional(),
        sort: sortInput(RESTORE_SORT_KEYS),
        limit: z.number().int().min(1).max(200).default(50),
        offset: z.number().int().min(0).default(0),
      })
      .default({ limit: 50, offset: 0 }),
  )
  .query(async ({ ctx, input }) => (await ctx.services.engine()).listRestoreJobs(input));

const get = procedure.input(z.object({ restoreId: z.string().trim().min(1).max(100) })).query(async ({ ctx, input }) => {
  const job = await (await ctx.services.engine()).getRestoreJob(input.restoreId);
  if (!job) throw new TRPCError({ code: 'NOT_FOUND', message: `Restore ${input.restoreId} not found; see the Restores page for the restores on record.` });
  return job;
});

export const restoresRouter = router({ list, get });
