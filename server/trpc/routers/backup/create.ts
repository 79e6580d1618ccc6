import { z } from 'zod';
import { SECURITY_LEVELS } from '../../../config';
import { BACKUP_TYPES, type CreateBackupOptions } from '../../../engine/types';
import { watchBackup } from '../../../monitoring/hooks';
import { procedure } from '../../init';
import { pathPolicyFor } from '../../services/path-policy';

const MAX_PAYLOAD = 64 * 1024 * 1024;

/** A payload's name inside the backup: relative, no "..", "." or empty parts, no backslash or control characters (else it could never be restored). */
const payloadName = z
  .string()
  .trim()
  .min(1)
  .max(200)
  .refine((n) => !n.startsWith('/') && !/[\\\u0000-\u001f\u007f]/.test(n) && n.split('/').every((part) => part !== '' && part !== '.' && part !== '..'), {
    error: 'use a relative name such as "data.json" (no leading "/", no "..", no empty or "." parts, no backslash or control characters)',
  });

const source = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('paths'), paths: z.array(z.string().trim().min(1).max(4096)).min(1, 'give at least one path').max(50) }),
  z.object({ kind: z.literal('text'), name: payloadName.default('payload.txt'), text: z.string().max(MAX_PAYLOAD) }),
]);

export const createInput = z.object({
  source,
  backupType: z.enum(BACKUP_TYPES).default('full'),
  securityLevel: z.enum(SECURITY_LEVELS).optional(),
  tags: z.array(z.string().trim().min(1).max(64)).max(20).default([]),
  retentionDays: z.number().int().min(1).max(36500).optional(),
  priority: z.number().int().min(1).max(10).default(5),
});

/**
 * Starts a backup and returns its id at once; the console then polls backup.progress. Server paths go
 * through the path policy first (operators: only under allowed_backup_paths; nobody: the installation's
 * own files); a refusal is a 403 naming the rule, and audited.
 */
export const create = procedure.input(createInput).mutation(async ({ ctx, input }) => {
  const s = input.source;
  if (s.kind === 'paths') await (await pathPolicyFor(ctx.services)).checkBackupSources(ctx.user, s.paths, { action: 'backup.create' });
  const from: Pick<CreateBackupOptions, 'paths' | 'payload' | 'payloadName'> =
    s.kind === 'paths'
      ? { paths: s.paths }
      : { payload: s.text, payloadName: s.name }; // files are uploaded to POST /api/backups/upload (streamed)
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
