/**
 * The checks every state-changing request passes before anything else runs (tRPC mutations and route
 * handlers alike), framework-free so each route calls the same function:
 *
 * - method: POST only (405 otherwise);
 * - origin: a browser's `Origin` must be the console's own — the request's `Host` (http or https), or
 *   `public_url`'s origin (the address users open behind a reverse proxy). `Sec-Fetch-Site: cross-site` is
 *   refused whatever it says. A request with neither header comes from a non-browser client, which no other
 *   site can make carry the admin's cookie, and passes. `X-Forwarded-Host` is never believed: behind a
 *   proxy, set `public_url`. (403)
 * - content type: only the types the route reads (415 otherwise);
 * - body size: `Content-Length` above the limit is refused before reading, and bodies without one are
 *   counted while they stream (413).
 */
import { Transform, type TransformCallback } from 'node:stream';

export const JSON_BODY_LIMIT = 1024 * 1024;

export interface MutationCheckOptions {
  /** Media types accepted, e.g. ['application/json']; parameters such as charset are ignored. */
  contentTypes: string[];
  /** config.public_url: its origin is accepted besides the request's own. */
  publicUrl?: string | null;
}

/** A refusal: a JSON document `{ error: { code, message } }` (tRPC routes shape their own). */
export function refusal(status: number, message: string, headers: Record<string, string> = {}): Response {
  return Response.json({ error: { code: status, message } }, { status, headers: { 'cache-control': 'no-store', ...headers } });
}

function originOf(url: string): string | null {
  try {
    const o = new URL(url).origin;
    return o === 'null' ? null : o;
  } catch {
    return null;
  }
}

/** The origins a browser may send mutations from: this request's Host (http or https) and public_url's. */
export function allowedOrigins(req: Request, publicUrl?: string | null): Set<string> {
  const out = new Set<string>();
  const host = req.headers.get('host');
  if (host && /^[A-Za-z0-9.:[\]-]+$/.test(host)) {
    for (const scheme of ['http', 'https']) {
      const o = originOf(`${scheme}://${host}`);
      if (o) out.add(o);
    }
  }
  const pub = publicUrl ? originOf(publicUrl) : null;
  if (pub) out.add(pub);
  return out;
}

/** Why a request's origin is refused, or null when it may change state. */
export function crossOriginReason(req: Request, publicUrl?: string | null): string | null {
  const site = req.headers.get('sec-fetch-site')?.toLowerCase();
  if (site === 'cross-site') return 'it comes from another site (Sec-Fetch-Site: cross-site)';
  const origin = req.headers.get('origin');
  if (origin !== null) {
    const o = originOf(origin);
    if (!o || !allowedOrigins(req, publicUrl).has(o)) return `its Origin (${origin.slice(0, 100)}) is not this console's`;
    return null;
  }
  if (site && site !== 'same-origin' && site !== 'none') return `it comes from another origin (Sec-Fetch-Site: ${site})`;
  return null;
}

function mediaType(req: Request): string {
  return (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
}

/**
 * The method, origin and content-type checks of a mutation; null when it may proceed, else the response
 * to send (405, 403, 415).
 */
export function checkMutationRequest(req: Request, opts: MutationCheckOptions): Response | null {
  if (req.method !== 'POST') return refusal(405, `Use POST for this request (got ${req.method}): it changes state.`, { allow: 'POST' });
  const cross = crossOriginReason(req, opts.publicUrl);
  if (cross) return refusal(403, `Refused: ${cross}. Changes can only be made from the console's own pages (behind a reverse proxy, set public_url to the address users open).`);
  const type = mediaType(req);
  if (!opts.contentTypes.includes(type)) return refusal(415, `Send the body as ${opts.contentTypes.join(' or ')} (got ${type || 'no Content-Type'}).`);
  return null;
}

/** The declared body length; NaN when absent or malformed (then the body is counted while read). */
export function declaredLength(req: Request): number {
  const v = req.headers.get('content-length');
  return v !== null && /^\d{1,16}$/.test(v.trim()) ? Number(v) : Number.NaN;
}

export class BodyTooLarge extends Error {
  constructor(readonly limit: number) {
    super(`The request body is larger than ${formatLimit(limit)}.`);
  }
}

export function formatLimit(bytes: number): string {
  return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

/**
 * Reads a whole body of at most `limit` bytes: refused at once when Content-Length says more, otherwise
 * counted chunk by chunk and abandoned as soon as it passes the limit (never buffered beyond it).
 */
export async function readBodyLimited(req: Request, limit: number): Promise<Uint8Array<ArrayBuffer>> {
  const declared = declaredLength(req);
  if (declared > limit) throw new BodyTooLarge(limit);
  if (!req.body) return new Uint8Array(0);
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => undefined);
      throw new BodyTooLarge(limit);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** A pass-through stream that fails with BodyTooLarge once more than `limit` bytes went through it. */
export function byteLimiter(limit: number): Transform & { bytes: () => number } {
  let n = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      n += chunk.length;
      if (n > limit) cb(new BodyTooLarge(limit));
      else cb(null, chunk);
    },
  });
  return Object.assign(t, { bytes: () => n });
}
