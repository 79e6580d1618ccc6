import { redirect } from 'next/navigation';
import type { ReactNode } from 'react';
import { AppShell } from '@/components/shell/app-shell';
import { SessionProvider } from '@/components/session';
import { Providers } from '@/components/trpc/provider';
import { getCurrentUser } from '@/server/auth/current';
import { allowedProcedures } from '@/server/trpc/permissions';
import { signOutAction } from './actions';

export const dynamic = 'force-dynamic';

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const user = await getCurrentUser();
  // The proxy sends signed-out visitors to /login with their destination; this catches disabled accounts.
  if (!user) redirect('/login');
  const session = { email: user.email, name: user.name, role: user.role, allowed: allowedProcedures(user.role) };
  return (
    <SessionProvider user={session}>
      <Providers>
        <AppShell signOut={signOutAction}>{children}</AppShell>
      </Providers>
    </SessionProvider>
  );
}
