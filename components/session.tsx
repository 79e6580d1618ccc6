'use client';
import { createContext, useContext, type ReactNode } from 'react';

export interface ConsoleUser {
  email: string;
  name: string | null;
  role: 'admin' | 'operator' | 'viewer';
  /** tRPC procedure paths this user's role may call (from the server's permission matrix). */
  allowed: string[];
}

const SessionContext = createContext<ConsoleUser | null>(null);

export function SessionProvider({ user, children }: { user: ConsoleUser; children: ReactNode }) {
  return <SessionContext.Provider value={user}>{children}</SessionContext.Provider>;
}

export function useConsoleUser(): ConsoleUser {
  const u = useContext(SessionContext);
  if (!u) throw new Error('useConsoleUser outside SessionProvider');
  return u;
}

/** Whether the signed-in role may call this procedure. Only hides controls: the server enforces. */
export function useCan(procedure: string): boolean {
  return useConsoleUser().allowed.includes(procedure);
}
