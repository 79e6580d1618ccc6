/**
 * Downloads one file of a backup: `GET /api/backups/<id>/file?path=<path inside the backup>`. Signed-in users
 * whose role may restore; streamed chunk by chunk (never the whole file in memory) with its exact length, so
 * a chunk that fails authentication ends the download as failed, never as a short or altered file.
 */
import { getCurrentUser } from '@/server/auth/current';
import { getEngine } from '@/server/context';
import { EngineError } from '@/server/engine/errors';
import { GENERIC_MESSAGE } from '@/server/trpc/errors';
import { can } from '@/server/trpc/permissions';

export const dynamic = 'force-dynamic';

const STATUS: Record<EngineError['code'], number> = { NOT_FOUND: 404, INVALID: 400, CONFLICT: 409, INTEGRITY: 412, FORBIDDEN: 403, UNAVAILABLE: 503 };

function text(status: number, message: string): Response {
  return new Response(`${message}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
}

export async function GET(req: Request, { params }: { params: Promise<{ id: string }> }): Promise<Response> {
  const user = await getCurrentUser();
  if (!user) return text(401, 'Sign in to download backup files.');
  const { id } = await params;
  const engine = await getEngine();
  if (!can(user.role, 'backup.recover')) {
    await engine.audit({ actor: user.email, action: 'backup.download', target: id, outcome: 'denied' }).catch(() => undefined);
    return text(403, 'Your role may not download backup files: downloading is restoring (operators and admins).');
  }
  const filePath = new URL(req.url).searchParams.get('path');
  if (!filePath) return text(400, 'Name the file: ?path=<path inside the backup>.');
  try {
    const { entry, bytes } = await engine.readBackupFile(id, filePath, { actor: user.email });
    const it = bytes[Symbol.asyncIterator]();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { value, done } = await it.next();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (err) {
          console.error(`[download] ${id} ${filePath}: ${(err as Error).message}`);
          controller.error(err);
        }
      },
    });
    const name = filePath.split('/').pop() ?? 'file';
    return new Response(body, {
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(entry.size),
        'content-disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}`,
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
      },
    });
  } catch (err) {
    if (err instanceof EngineError) return text(STATUS[err.code], err.message);
    console.error(`[download] ${id} ${filePath}: ${(err as Error).stack ?? err}`);
    return text(500, GENERIC_MESSAGE);
  }
}
