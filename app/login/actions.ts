'use server';
import { AuthError, CredentialsSignin } from 'next-auth';
import { signIn } from '@/server/auth';
import { safeCallbackPath } from '@/server/auth/config';
import type { SignInState } from '@/components/login/login-form';

export async function signInAction(_prev: SignInState, form: FormData): Promise<SignInState> {
  try {
    await signIn('credentials', {
      email: String(form.get('email') ?? ''),
      password: String(form.get('password') ?? ''),
      redirectTo: safeCallbackPath(form.get('callbackUrl')),
    });
    return {};
  } catch (err) {
    if (err instanceof CredentialsSignin) {
      return {
        error:
          err.code === 'throttled'
            ? 'Too many failed sign-ins for this email or from this address. Try again in 15 minutes (an hour after many failures), or ask an admin to unlock the account.'
            : 'Wrong email or password.',
      };
    }
    if (err instanceof AuthError) return { error: 'Sign-in failed; please try again.' };
    throw err; // the redirect after a successful sign-in
  }
}
