'use client';
import { useQuery } from '@tanstack/react-query';
import type { ReactNode } from 'react';
import { type RouterOutputs, useTRPC } from '../trpc/client';

export type PathPolicy = RouterOutputs['auth']['me']['pathPolicy'];

/** The signed-in user's path policy (auth.me): where they may back up from and restore to; null while loading. */
export function usePathPolicy(): PathPolicy | null {
  const trpc = useTRPC();
  const { data } = useQuery(trpc.auth.me.queryOptions(undefined, { staleTime: 60_000 }));
  return data?.pathPolicy ?? null;
}

const Roots = ({ roots }: { roots: string[] }) => (
  <>
    {roots.map((r, i) => (
      <span key={r}>
        {i > 0 && ', '}
        <span className="font-mono">{r}</span>
      </span>
    ))}
  </>
);

/**
 * The hint under a path field: where this user may back up from (`backup`) or restore to (`restore`).
 * `base` is the field's own hint, kept in front.
 */
export function pathRootsHint(policy: PathPolicy | null, kind: 'backup' | 'restore', base: ReactNode): ReactNode {
  if (!policy) return base;
  const roots = kind === 'backup' ? policy.backupRoots : policy.restoreRoots;
  const setting = kind === 'backup' ? 'allowed_backup_paths' : 'allowed_restore_paths';
  if (roots === null) {
    return (
      <>
        {base} Never the installation&apos;s own data directory, keys or storage locations, nor a directory that contains them.
      </>
    );
  }
  if (roots.length === 0) {
    return (
      <span data-testid={`${kind}-roots`} className="text-amber-800">
        Your role may not {kind === 'backup' ? 'back up server paths (paste text or upload a file instead)' : 'restore to server paths'}: no {setting} are configured. Ask an admin.
      </span>
    );
  }
  return (
    <>
      {base}{' '}
      <span data-testid={`${kind}-roots`}>
        Your role may {kind === 'backup' ? 'back up' : 'restore'} only under <Roots roots={roots} />.
      </span>
    </>
  );
}
