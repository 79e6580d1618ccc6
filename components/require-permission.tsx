'use client';
import type { ReactNode } from 'react';
import { useCan, useConsoleUser } from './session';
import { EmptyState } from './ui/feedback';

/** Shows its children only to roles that may call `procedure`; the server refuses the calls anyway. */
export function RequirePermission({ procedure, children }: { procedure: string; children: ReactNode }) {
  const allowed = useCan(procedure);
  const { role } = useConsoleUser();
  if (allowed) return children;
  return <EmptyState title="Not available to your role">Your role ({role}) cannot open this page. Ask an admin if you need access.</EmptyState>;
}
