'use client';
import { useActionState } from 'react';
import { Field, Input } from '../ui/form';

export interface SignInState {
  error?: string;
}

export function LoginForm({ action, callbackUrl }: { action: (prev: SignInState, form: FormData) => Promise<SignInState>; callbackUrl: string }) {
  const [state, formAction, pending] = useActionState(action, {});
  return (
    <form action={formAction} className="space-y-4">
      <input type="hidden" name="callbackUrl" value={callbackUrl} />
      <Field label="Email">
        <Input name="email" type="email" autoComplete="username" required autoFocus />
      </Field>
      <Field label="Password">
        <Input name="password" type="password" autoComplete="current-password" required />
      </Field>
      {state.error && (
        <p role="alert" className="rounded-md border border-red-200 bg-red-50 px-3 py-2 text-sm text-red-800">
          {state.error}
        </p>
      )}
      <button type="submit" disabled={pending} className="w-full rounded-md bg-indigo-600 px-3 py-2 text-sm font-medium text-white hover:bg-indigo-500 disabled:bg-indigo-300">
        {pending ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}
