import { z } from 'zod';
import { AUDIT_SORT_KEYS } from '../../../audit/list';
import { procedure } from '../../init';
import { sortInput } from '../../lib/sort';

export const auditListInput = z
  .object({
    action: z.string().trim().max(100).optional(),
    actor: z.string().trim().max(320).optional(),
    outcome: z.enum(['success', 'failure', 'denied']).optional(),
    sort: sortInput(AUDIT_SORT_KEYS),
    limit: z.number().int().min(1).max(500).default(50),
    offset: z.number().int().min(0).default(0),
  })
  .default({ limit: 50, offset: 0 });

export const list = procedure.input(auditListInput).query(async ({ ctx, input }) => (await ctx.services.audit()).list(input));
