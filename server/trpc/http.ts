/** The HTTP face of the router (used by app/api/trpc): builds each request's context and logs unexpected errors. */
import { fetchRequestHandler } from '@trpc/server/adapters/fetch';
import { getCurrentUser } from '../auth/current';
import type { Context } from './context';
import { mapError } from './errors';
import { appRouter } from './root';
import { liveServices } from './services/live';

async function createContext(): Promise<Context> {
  const user = await getCurrentUser();
  return { user: user ? { id: user.id, email: user.email, name: user.name, role: user.role } : null, services: liveServices };
}

export function handleTrpc(req: Request): Promise<Response> {
  return fetchRequestHandler({
    endpoint: '/api/trpc',
    req,
    router: appRouter,
    createContext,
    onError({ error, path }) {
      if (mapError(error).unexpected) console.error(`[trpc] ${path ?? '?'}: ${error.cause instanceof Error ? (error.cause.stack ?? error.cause.message) : error.message}`);
    },
  });
}
