import { checkHealth } from './check';

export const dynamic = 'force-dynamic';

/** Liveness for load balancers and monitors; no sign-in, and nothing secret in it. */
export async function GET(): Promise<Response> {
  const report = await checkHealth();
  return Response.json(report, { status: report.status === 'down' ? 503 : 200, headers: { 'cache-control': 'no-store' } });
}
