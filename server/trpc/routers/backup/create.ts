import { z } from 'zod';
import { SECURITY_LEVELS } from '../../../config';
import { BACKUP_TYPES, type CreateBackupOptions } from '../../../engine/types';
import { watchBackup } from '../../../monitoring/hooks';
import { procedure } from '../../init';

const MAX_PAYLOAD = 64 * 1024 * 1024;

const source = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('paths'), paths: z.array(z.string().trim().min(1)).min(1, 'give at least one path').max(50) }),
  z.object({ kind: z.literal('text'), name: z.string().trim().min(1).max(200).default('payload.txt'), text: z.string().max(MAX_PAYLOAD) }),
  z.object({ kind: z.literal('upload'), name: z.string().trim().min(1).max(255), base64: z.string().max(Math.ceil((MAX_PAYLOAD * 4) / 3) + 4) }),
]);

export const createInput = z.object({
  source,
  backupType: z.enum(BACKUP_TYPES).default('full'),
  securityLevel: z.enum(SECURITY_LEVELS).optional(),
  tags: z.array(z.string().trim().min(1).max(64)).max(20).default([]),
  retentionDays: z.number().int().min(1).max(36500).optional(),
  priority: z.number().int().min(1).max(10).default(5),
});

/** Starts a backup and returns its id at once; the console then polls backup.progress. */
export const create = procedure.input(createInput).mutation(async ({ ctx, input }) => {
  const s = input.source;
  const from: Pick<CreateBackupOptions, 'paths' | 'payload' | 'payloadName'> =
    s.kind === 'paths'
      ? { paths: s.paths }
      : s.kind === 'text'
        ? { payload: s.text, payloadName: s.name }
        : { payload: Buffer.from(s.base64, 'base64'), payloadName: s.name };
  const engine = await ctx.services.engine();
  const { backup_id, done } = await engine.startBackup({
    ...from,
    backupType: input.backupType,
    securityLevel: input.securityLevel,
    tags: input.tags,
    retentionDays: input.retentionDays,
    priority: input.priority,
    userId: ctx.user.email,
    metadata: { created_by: ctx.user.email, via: 'console' },
    actor: ctx.user.email,
  });
  void watchBackup(engine, backup_id, done); // alerts when it fails (or resolves an earlier failure)
  return { backup_id };
});
