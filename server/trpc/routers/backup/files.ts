import { z } from 'zod';
import { FILE_SORT_KEYS } from '../../../engine/restore/file-list-cache';
import { procedure } from '../../init';
import { sortInput } from '../../lib/sort';
import { backupId } from './schemas';

/** The files inside a completed backup (from its manifest), filtered by a path substring, sorted over all of them, paged. */
export const files = procedure
  .input(
    z.object({
      backupId,
      filter: z.string().trim().max(1024).optional(),
      sort: sortInput(FILE_SORT_KEYS),
      limit: z.number().int().min(1).max(500).default(100),
      offset: z.number().int().min(0).default(0),
    }),
  )
  .query(async ({ ctx, input }) => (await ctx.services.engine()).listBackupFiles(input.backupId, { ...input, actor: ctx.user.email }));
