import type { Metadata } from 'next';
import { redirect } from 'next/navigation';
import { LoginForm } from '@/components/login/login-form';
import { safeCallbackPath } from '@/server/auth/config';
import { getCurrentUser } from '@/server/auth/current';
import { signInAction } from './actions';

export const metadata: Metadata = { title: 'Sign in' };

export default async function LoginPage({ searchParams }: { searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const params = await searchParams;
  const callbackUrl = safeCallbackPath(params.callbackUrl);
  if (await getCurrentUser()) redirect(callbackUrl);
  return (
    <div className="flex min-h-screen items-center justify-center bg-slate-100 px-4">
      <div className="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-6 shadow-sm">
        <h1 className="text-lg font-semibold text-slate-900">
          PlexiChat <span className="text-indigo-600">Backup</span>
        </h1>
        <p className="mb-5 mt-1 text-sm text-slate-500">Sign in to the backup console.</p>
        <LoginForm action={signInAction} callbackUrl={callbackUrl} />
        <p className="mt-5 text-xs text-slate-500">
          First start? The admin is <code>PLEXICHAT_ADMIN_EMAIL</code> (default <code>admin@localhost</code>); its password is <code>PLEXICHAT_ADMIN_PASSWORD</code> or was printed once in the server log.
        </p>
      </div>
    </div>
  );
}
