/**
 * Backs up one uploaded file: `POST /api/backups/upload?name=<file name>&backupType=full&securityLevel=…
 * &tags=a,b&retentionDays=N&priority=N` with the raw file as the body (application/octet-stream). Roles that
 * may create backups; the mutation guard (same origin, POST, content type); the body is streamed to a
 * private temporary directory (never held whole in memory) up to `max_upload_mb`, backed up as one file
 * named after the upload, and the directory is removed when the backup ends. Answers `{ backup_id }`.
 */
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { z } from 'zod';
import { getCurrentUser } from '@/server/auth/current';
import { SECURITY_LEVELS } from '@/server/config';
import { getEngine } from '@/server/context';
import { EngineError } from '@/server/engine/errors';
import { BACKUP_TYPES } from '@/server/engine/types';
import { BodyTooLarge, byteLimiter, checkMutationRequest, declaredLength, formatLimit, refusal } from '@/server/http/request-guard';
import { errorDetails, errorIdFor } from '@/server/http/safe-errors';
import { findUnsafeText, unsafeTextMessage, uploadNameProblem } from '@/server/http/text-rules';
import { watchBackup } from '@/server/monitoring/hooks';
import { GENERIC_MESSAGE } from '@/server/trpc/errors';
import { can } from '@/server/trpc/permissions';

export const dynamic = 'force-dynamic';

const STATUS: Record<EngineError['code'], number> = { NOT_FOUND: 404, INVALID: 400, CONFLICT: 409, INTEGRITY: 412, FORBIDDEN: 403, UNAVAILABLE: 503 };

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const options = z.object({
  backupType: z.enum(BACKUP_TYPES).exclude(['continuous']).default('full'),
  securityLevel: z.enum(SECURITY_LEVELS).optional(),
  tags: z
    .string()
    .max(2000)
    .optional()
    .transform((s) => (s ?? '').split(',').map((t) => t.trim()).filter(Boolean))
    .pipe(z.array(z.string().max(64)).max(20)),
  retentionDays: int(1, 36500).optional(),
  priority: int(1, 10).default(5),
});

function optionsFrom(url: URL): z.infer<typeof options> | string {
  const raw: Record<string, string> = {};
  for (const key of ['backupType', 'securityLevel', 'tags', 'retentionDays', 'priority']) {
    const v = url.searchParams.get(key);
    if (v !== null && v !== '') raw[key] = v;
  }
  const unsafe = findUnsafeText(raw);
  if (unsafe) return unsafeTextMessage(unsafe);
  const parsed = options.safeParse(raw);
  if (parsed.success) return parsed.data;
  return `Invalid input: ${parsed.error.issues
    .slice(0, 5)
    .map((i) => `${i.path.join('.')}: ${i.message}`)
    .join('; ')}`;
}

export async function POST(req: Request): Promise<Response> {
  let engine;
  try {
    engine = await getEngine();
  } catch {
    return refusal(503, 'The backup engine is not available; see the server log.');
  }
  const refused = checkMutationRequest(req, { contentTypes: ['application/octet-stream'], publicUrl: engine.config.public_url });
  if (refused) return refused;
  const user = await getCurrentUser();
  if (!user) return refusal(401, 'Sign in to upload a backup.');
  if (!can(user.role, 'backup.create')) {
    await engine.audit({ actor: user.email, action: 'backup.create', outcome: 'denied', details: { role: user.role, via: 'upload' } }).catch(() => undefined);
    return refusal(403, `Your role (${user.role}) may not create backups; ask an admin.`);
  }

  const url = new URL(req.url);
  const name = url.searchParams.get('name');
  const badName = uploadNameProblem(name);
  if (badName) return refusal(400, `Invalid upload name: ${badName}.`);
  const opts = optionsFrom(url);
  if (typeof opts === 'string') return refusal(400, opts);

  const limit = engine.config.max_upload_mb * 1024 * 1024;
  const tooLarge = () => refusal(413, `The upload is larger than max_upload_mb (${formatLimit(limit)}); back up a directory on the server instead, or raise max_upload_mb.`);
  if (declaredLength(req) > limit) return tooLarge();

  // A private directory (0700) holding one file named after the upload: the backup's only entry.
  const dir = await mkdtemp(path.join(tmpdir(), 'plexichat-upload-'));
  const file = path.join(dir, name!);
  const cleanup = () => rm(dir, { recursive: true, force: true }).catch(() => undefined);
  try {
    const body = req.body ? Readable.fromWeb(req.body as WebReadableStream<Uint8Array>) : Readable.from([]);
    await pipeline(body, byteLimiter(limit), createWriteStream(file, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    await cleanup();
    if (err instanceof BodyTooLarge) return tooLarge();
    const id = errorIdFor(err);
    console.error(`[upload] ${name} (error id ${id}): ${errorDetails(err)}`);
    return refusal(400, `The upload did not arrive whole (error id ${id}); try again.`);
  }

  try {
    const { backup_id, done } = await engine.startBackup({
      paths: [file],
      backupType: opts.backupType,
      securityLevel: opts.securityLevel,
      tags: opts.tags,
      retentionDays: opts.retentionDays,
      priority: opts.priority,
      userId: user.email,
      metadata: { upload: name, via: 'console', created_by: user.email },
      actor: user.email,
    });
    void done.finally(cleanup).catch(() => undefined);
    void watchBackup(engine, backup_id, done); // alerts when it fails (or resolves an earlier failure)
    return Response.json({ backup_id }, { headers: { 'cache-control': 'no-store' } });
  } catch (err) {
    await cleanup();
    if (err instanceof EngineError) return refusal(STATUS[err.code], err.message);
    const id = errorIdFor(err);
    console.error(`[upload] ${name} (error id ${id}): ${errorDetails(err)}`);
    return refusal(500, `${GENERIC_MESSAGE} (error id ${id})`);
  }
}
