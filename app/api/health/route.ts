import { getCurrentUser } from '@/server/auth/current';
import { checkHealth } from './check';

export const dynamic = 'force-dynamic';

/**
 * Liveness for load balancers and monitors. Signed out, only the status (`ok`, `degraded` or `down`, and
 * 503 when down); the details — database, each storage location, its type and error, the version — only
 * for signed-in users.
 */
export async function GET(): Promise<Response> {
  const [report, user] = await Promise.all([checkHealth(), getCurrentUser().catch(() => null)]);
  const body = user ? report : { status: report.status };
  return Response.json(body, { status: report.status === 'down' ? 503 : 200, headers: { 'cache-control': 'no-store' } });
}
