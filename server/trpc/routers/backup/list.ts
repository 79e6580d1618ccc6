import { z } from 'zod';
import { BACKUP_SORT_KEYS, BACKUP_STATUSES, BACKUP_TYPES } from '../../../engine/types';
import { procedure } from '../../init';
import { sortInput } from '../../lib/sort';

/** Far beyond any catalog, and well inside PostgreSQL's bigint and JavaScript's safe integers. */
export const MAX_OFFSET = 1_000_000_000;

export const listInput = z
  .object({
    userId: z.string().trim().min(1).max(320).optional(),
    backupType: z.enum(BACKUP_TYPES).optional(),
    status: z.enum(BACKUP_STATUSES).optional(),
    tags: z.array(z.string().trim().min(1).max(64)).max(20).optional(),
    sort: sortInput(BACKUP_SORT_KEYS),
    limit: z.number().int().min(1).max(200).default(25),
    offset: z.number().int().min(0).max(MAX_OFFSET, `must be at most ${MAX_OFFSET}`).default(0),
  })
  .default({ limit: 25, offset: 0 });

export const list = procedure.input(listInput).query(async ({ ctx, input }) => {
  const engine = await ctx.services.engine();
  // Continuous backups are collapsed to the newest per source set, unless they are what was asked for.
  const filter = { ...input, collapseContinuous: input.backupType !== 'continuous' };
  const [items, total] = await Promise.all([engine.listBackups(filter), engine.countBackups({ ...filter, sort: undefined, limit: undefined, offset: undefined })]);
  return { items, total, limit: input.limit, offset: input.offset };
});
