/**
 * The HTTP face of the router (used by app/api/trpc): the request checks (a GET on a mutation → 405; every
 * POST passes the mutation guard — same origin, application/json — and a 1 MiB body limit, refused before
 * the body is read whole), then each request's context, and the log line of unexpected errors.
 */
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { getCurrentUser } from '../auth/current';
import { getEngine } from '../context';
import { BodyTooLarge, checkMutationRequest, JSON_BODY_LIMIT, readBodyLimited } from '../http/request-guard';
import { errorDetails } from '../http/safe-errors';
import type { Context } from './context';
import { errorIdOf, mapError } from './errors';
import { appRouter } from './root';
import { liveServices } from './services/live';

const ENDPOINT = '/api/trpc';

async function createContext(): Promise<Context> {
  const user = await getCurrentUser();
  return { user: user ? { id: user.id, email: user.email, name: user.name, role: user.role } : null, services: liveServices };
}

const STATUS_KEYS: Record<number, TRPC_ERROR_CODE_KEY> = { 403: 'FORBIDDEN', 405: 'METHOD_NOT_SUPPORTED', 413: 'PAYLOAD_TOO_LARGE', 415: 'UNSUPPORTED_MEDIA_TYPE' };

/** A refusal in tRPC's error shape (the client maps a single error to every call of a batch). */
function trpcRefusal(status: number, message: string, headers: HeadersInit = {}): Response {
  const key = STATUS_KEYS[status] ?? 'BAD_REQUEST';
  const body = { error: { message, code: TRPC_ERROR_CODES_BY_KEY[key], data: { code: key, httpStatus: status } } };
  const h = new Headers(headers);
  h.set('cache-control', 'no-store');
  return Response.json(body, { status, headers: h });
}

/** The procedure paths a request names: `/api/trpc/a.b,c.d`. */
function pathsOf(req: Request): string[] {
  const { pathname } = new URL(req.url);
  const rest = pathname.startsWith(`${ENDPOINT}/`) ? pathname.slice(ENDPOINT.length + 1) : '';
  let decoded = rest;
  try {
    decoded = decodeURIComponent(rest);
  } catch {
    // malformed: tRPC answers it as an unknown path
  }
  return decoded.split(',').filter(Boolean);
}

function isMutation(path: string): boolean {
  const procs = appRouter._def.procedures as Record<string, { _def?: { type?: string } } | undefined>;
  return procs[path]?._def?.type === 'mutation';
}

let publicUrl: Promise<string | null> | undefined;
/** config.public_url, from the engine's configuration (read once). */
function configuredPublicUrl(): Promise<string | null> {
  publicUrl ??= getEngine().then(
    (e) => e.config.public_url,
    () => {
      publicUrl = undefined; // try again on the next request
      return null;
    },
  );
  return publicUrl;
}

/** The checks before tRPC sees the request: a refusal, or the request to hand on (its body read, ≤ 1 MiB). */
async function guard(req: Request): Promise<Response | Request> {
  if (req.method === 'GET' || req.method === 'HEAD') {
    const mutation = pathsOf(req).find(isMutation);
    if (mutation) return trpcRefusal(405, `${mutation} changes state: call it with POST.`, { allow: 'POST' });
    return req;
  }
  const refused = checkMutationRequest(req, { contentTypes: ['application/json'], publicUrl: await configuredPublicUrl() });
  if (refused) {
    const { error } = (await refused.json()) as { error: { message: string } };
    return trpcRefusal(refused.status, error.message, refused.headers);
  }
  try {
    const body = await readBodyLimited(req, JSON_BODY_LIMIT);
    return new Request(req.url, { method: req.method, headers: req.headers, body, signal: req.signal });
  } catch (err) {
    if (err instanceof BodyTooLarge) return trpcRefusal(413, `${err.message} Send less at a time (uploads go to POST /api/backups/upload).`);
    throw err;
  }
}

export async function handleTrpc(req: Request): Promise<Response> {
  const checked = await guard(req);
  if (checked instanceof Response) return checked;
  return fetchRequestHandler({
    endpoint: ENDPOINT,
    req: checked,
    router: appRouter,
    createContext,
    onError({ error, path }) {
      if (mapError(error).unexpected) console.error(`[trpc] ${path ?? '?'} (error id ${errorIdOf(error)}): ${errorDetails(error.cause ?? error)}`);
    },
  });
}
