import { createHash, timingSafeEqual } from 'node:crypto';
import { collectMetrics } from './collect';

export const dynamic = 'force-dynamic';

function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Prometheus scrape endpoint, behind `Authorization: Bearer $PLEXICHAT_METRICS_TOKEN`. */
export async function GET(req: Request): Promise<Response> {
  const expected = process.env.PLEXICHAT_METRICS_TOKEN;
  if (!expected) {
    return new Response('Metrics are off: set PLEXICHAT_METRICS_TOKEN and scrape with "Authorization: Bearer <token>".\n', {
      status: 404,
      headers: { 'content-type': 'text/plain; charset=utf-8' },
    });
  }
  const header = req.headers.get('authorization') ?? '';
  const given = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
  if (!given || !sameToken(given, expected)) {
    return new Response('Unauthorized: send "Authorization: Bearer <PLEXICHAT_METRICS_TOKEN>".\n', {
      status: 401,
      headers: { 'content-type': 'text/plain; charset=utf-8', 'www-authenticate': 'Bearer realm="plexichat-metrics"' },
    });
  }
  const { body, contentType } = await collectMetrics();
  return new Response(body, { headers: { 'content-type': contentType, 'cache-control': 'no-store' } });
}
