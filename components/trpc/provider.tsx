'use client';
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { useState, type ReactNode } from 'react';
import type { AppRouter } from '@/server/trpc/root';
import { TRPCProvider } from './client';

/** A session that expired (or an account disabled) mid-page: go sign in again, then come back here. */
function onError(err: unknown) {
  if ((err as { data?: { code?: string } }).data?.code !== 'UNAUTHORIZED' || typeof window === 'undefined') return;
  const back = window.location.pathname + window.location.search;
  window.location.assign(`/login?callbackUrl=${encodeURIComponent(back)}`);
}

function makeQueryClient() {
  return new QueryClient({
    queryCache: new QueryCache({ onError }),
    mutationCache: new MutationCache({ onError }),
    defaultOptions: {
      queries: {
        staleTime: 5_000,
        refetchOnWindowFocus: true,
        // Permission and validation errors do not get better by retrying.
        retry: (count, err) => count < 2 && !/FORBIDDEN|UNAUTHORIZED|NOT_FOUND|BAD_REQUEST/.test(String((err as { data?: { code?: string } }).data?.code)),
      },
    },
  });
}

export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(makeQueryClient);
  const [trpcClient] = useState(() => createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: '/api/trpc' })] }));
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        {children}
      </TRPCProvider>
    </QueryClientProvider>
  );
}
