'use client';
import Link from 'next/link';
import { usePathname } from 'next/navigation';
import { useState, type ReactNode } from 'react';
import { useConsoleUser } from '../session';

interface NavItem {
  href: string;
  label: string;
  /** Shown only to roles that may call this procedure. */
  needs?: string;
}

const NAV: NavItem[] = [
  { href: '/', label: 'Dashboard' },
  { href: '/backups', label: 'Backups' },
  { href: '/backups/new', label: 'New backup', needs: 'backup.create' },
  { href: '/restores', label: 'Restores', needs: 'restores.list' },
  { href: '/storage', label: 'Storage' },
  { href: '/schedules', label: 'Schedules' },
  { href: '/alerts', label: 'Alerts' },
  { href: '/reports', label: 'Reports' },
  { href: '/keys', label: 'Keys', needs: 'keys.status' },
  { href: '/users', label: 'Users', needs: 'users.list' },
  { href: '/audit', label: 'Audit log', needs: 'audit.list' },
];

function active(pathname: string, href: string): boolean {
  if (href === '/') return pathname === '/';
  if (href === '/backups') return pathname === '/backups' || (pathname.startsWith('/backups/') && pathname !== '/backups/new');
  return pathname === href || pathname.startsWith(`${href}/`);
}

export function AppShell({ signOut, children }: { signOut: () => Promise<void>; children: ReactNode }) {
  const user = useConsoleUser();
  const pathname = usePathname();
  const [open, setOpen] = useState(false);
  const items = NAV.filter((i) => !i.needs || user.allowed.includes(i.needs));
  return (
    <div className="min-h-screen lg:flex">
      <aside className="border-b border-slate-800 bg-slate-900 text-slate-100 lg:sticky lg:top-0 lg:h-screen lg:w-56 lg:shrink-0 lg:border-b-0">
        <div className="flex items-center justify-between px-4 py-3">
          <Link href="/" className="text-base font-semibold tracking-tight">
            PlexiChat <span className="text-indigo-300">Backup</span>
          </Link>
          <button type="button" className="rounded px-2 py-1 text-sm text-slate-300 hover:bg-slate-800 lg:hidden" onClick={() => setOpen(!open)} aria-expanded={open} aria-label="Menu">
            Menu
          </button>
        </div>
        <nav aria-label="Main" className={`${open ? 'block' : 'hidden'} px-2 pb-3 lg:block`}>
          {items.map((i) => (
            <Link
              key={i.href}
              href={i.href}
              onClick={() => setOpen(false)}
              className={`block rounded-md px-3 py-1.5 text-sm ${active(pathname, i.href) ? 'bg-slate-700 font-medium text-white' : 'text-slate-300 hover:bg-slate-800 hover:text-white'}`}
            >
              {i.label}
            </Link>
          ))}
          <div className="mt-4 border-t border-slate-700 px-3 pt-3 text-xs text-slate-400">
            <div className="truncate" title={user.email}>
              {user.email}
            </div>
            <div className="mt-0.5">
              Role: <span className="font-medium text-slate-200">{user.role}</span>
            </div>
            <form action={signOut} className="mt-2">
              <button type="submit" className="rounded border border-slate-600 px-2 py-1 text-xs text-slate-200 hover:bg-slate-800">
                Sign out
              </button>
            </form>
          </div>
        </nav>
      </aside>
      <main className="min-w-0 flex-1 px-4 py-5 sm:px-6 lg:px-8">{children}</main>
    </div>
  );
}
