import type { Metadata } from 'next';
import Link from 'next/link';

export const metadata: Metadata = { title: 'Page not found' };

/** Any URL the console does not have: say so in the console's look, and offer the way back. */
export default function NotFound() {
  return (
    <div className="flex min-h-screen items-center justify-center bg-slate-100 px-4">
      <div className="w-full max-w-md rounded-xl border border-slate-200 bg-white p-6 text-center shadow-sm">
        <img src="/icon.svg" alt="" width={40} height={40} className="mx-auto" />
        <p className="mt-3 text-sm font-semibold text-slate-900">
          PlexiChat <span className="text-indigo-600">Backup</span>
        </p>
        <p className="mt-4 text-4xl font-semibold tabular-nums text-slate-300">404</p>
        <h1 className="mt-2 text-lg font-semibold text-slate-900">This page does not exist</h1>
        <p className="mt-1 text-sm text-slate-500">The link may be mistyped, or what it pointed to was removed. Your backups are not affected.</p>
        <div className="mt-5 flex flex-wrap justify-center gap-2">
          <Link href="/" className="inline-flex items-center rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-500">
            Go to the dashboard
          </Link>
          <Link href="/backups" className="inline-flex items-center rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-700 hover:bg-slate-50">
            Backups
          </Link>
        </div>
      </div>
    </div>
  );
}
