/**
 * The audit log as CSV: `GET /api/audit/export?action=&actor=&outcome=` (the console's filters). For roles
 * that may read the audit log (audit.list in the permission matrix); a refusal and every export are
 * audited. Streamed page by page (server/audit/csv.ts), spreadsheet-formula safe.
 */
import { z } from 'zod';
import { auditCsv } from '@/server/audit/csv';
import { getCurrentUser } from '@/server/auth/current';
import { getDb, getEngine } from '@/server/context';
import { GENERIC_MESSAGE } from '@/server/trpc/errors';
import { can } from '@/server/trpc/permissions';

export const dynamic = 'force-dynamic';

const filterSchema = z.object({
  action: z.string().trim().max(100).optional(),
  actor: z.string().trim().max(320).optional(),
  outcome: z.enum(['success', 'failure', 'denied']).optional(),
});

function text(status: number, message: string): Response {
  return new Response(`${message}\n`, { status, headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' } });
}

export async function GET(req: Request): Promise<Response> {
  const user = await getCurrentUser();
  if (!user) return text(401, 'Sign in to export the audit log.');
  const engine = await getEngine();
  if (!can(user.role, 'audit.list')) {
    await engine.audit({ actor: user.email, action: 'audit.export', outcome: 'denied', details: { role: user.role } }).catch(() => undefined);
    return text(403, `Your role (${user.role}) may not read the audit log; ask an admin.`);
  }
  const params = Object.fromEntries([...new URL(req.url).searchParams].filter(([, v]) => v !== ''));
  const parsed = filterSchema.safeParse(params);
  if (!parsed.success) return text(400, `Bad filter: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}. Use action, actor and outcome (success, failure or denied).`);
  const filter = parsed.data;
  await engine.audit({ actor: user.email, action: 'audit.export', details: { ...filter } });
  const db = await getDb();
  const rows = auditCsv(db, filter);
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await rows.next();
        if (done) controller.close();
        else controller.enqueue(encoder.encode(value));
      } catch (err) {
        console.error(`[audit export] ${(err as Error).stack ?? err}`);
        controller.error(new Error(GENERIC_MESSAGE));
      }
    },
    async cancel() {
      await rows.return(undefined);
    },
  });
  const stamp = new Date().toISOString().replace(/[:]/g, '').slice(0, 15);
  return new Response(body, {
    headers: {
      'content-type': 'text/csv; charset=utf-8',
      'content-disposition': `attachment; filename="audit-log-${stamp}Z.csv"`,
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
    },
  });
}
