import { TRPCError } from '@trpc/server';
import { z } from 'zod';
import { pathPolicyFor } from '../../services/path-policy';
import { startRestoreJob } from '../../services/restore-jobs';
import { procedure } from '../../init';
import { backupId } from './schemas';

const isoDate = z.iso.date({ error: 'use a date like 2024-06-01' }).optional();

export const recoverInput = z
  .object({
    backupId,
    /** A directory on the server. */
    target: z
      .string()
      .trim()
      .min(1, 'give a target directory on the server')
      .max(4096)
      // A relative path would land in the server's working directory (the app's own folder).
      .refine((t) => t.startsWith('/'), { error: 'give an absolute directory on the server, starting with "/" (a relative path would land in the console\'s own folder)' }),
    include: z.array(z.string().trim().min(1).max(1024)).max(100).default([]),
    /** Only files modified in this range (inclusive days, UTC). */
    from: isoDate,
    to: isoDate,
    overwrite: z.boolean().default(false),
    /** allow_partial_recovery: restore every readable file and report the lost ones (refused below the threshold). */
    allowPartial: z.boolean().default(false),
    minShardThreshold: z.number().min(0).max(1).optional(),
    /** MAXIMUM backups: k of the key holders' quorum shares, used for this restore only (never stored or logged). */
    shares: z.array(z.string().trim().min(1).max(16_384)).max(9, 'a quorum has at most 9 key holders').default([]),
  })
  .refine((v) => !v.from || !v.to || v.from <= v.to, { error: '"from" must not be after "to"', path: ['from'] });

/**
 * Restores a backup (or the files matching `include` and the date range) into a directory on the server.
 * Returns the restore job at once; `restoreProgress` follows it. The target goes through the path policy
 * (operators: only under allowed_restore_paths, never overwriting; nobody: the installation's own files),
 * now and again when the job starts; the engine gets the real path that was checked.
 */
export const recover = procedure.input(recoverInput).mutation(async ({ ctx, input }) => {
  const engine = await ctx.services.engine();
  // Refuse a missing backup now, not in the background.
  if (!(await engine.getBackup(input.backupId))) throw new TRPCError({ code: 'NOT_FOUND', message: `Backup ${input.backupId} not found; it may have been deleted.` });
  const policy = await pathPolicyFor(ctx.services);
  // Checked now (a clear refusal), and again for the same user when the job starts (restore-jobs.ts).
  const target = await policy.checkRestoreTarget(ctx.user, input.target, input.overwrite, { action: 'backup.restore', details: { backup_id: input.backupId } });
  const dateRange = input.from || input.to ? { start: input.from, end: input.to } : undefined;
  const options = { include: input.include.length ? input.include : undefined, dateRange, overwrite: input.overwrite, allowPartial: input.allowPartial, minShardThreshold: input.minShardThreshold };
  return startRestoreJob(engine, input.backupId, target, options, { email: ctx.user.email, role: ctx.user.role }, input.shares);
});

/** One restore job from the catalog: started by any console or the CLI, run by any process. */
export const restoreProgress = procedure.input(z.object({ restoreId: z.string().trim().min(1).max(100) })).query(async ({ ctx, input }) => {
  const job = await (await ctx.services.engine()).getRestoreJob(input.restoreId);
  if (!job) throw new TRPCError({ code: 'NOT_FOUND', message: `Restore ${input.restoreId} not found; see the Restores page for the restores on record.` });
  return job;
});
