/** Auth.js (next-auth v5): email + password sign-in against the users in the catalog. */
import NextAuth, { CredentialsSignin } from 'next-auth';
import Credentials from 'next-auth/providers/credentials';
import { getDb } from '../context';
import { authConfig } from './config';
import { authenticate } from './signin';

/** Thrown for a locked account; its `code` reaches the sign-in form, which explains the lock. */
export class AccountLocked extends CredentialsSignin {
  override code = 'locked';
}

function clientIp(request: Request): string | null {
  const fwd = request.headers.get('x-forwarded-for');
  return fwd ? (fwd.split(',')[0]?.trim() ?? null) : (request.headers.get('x-real-ip') ?? null);
}

export const { handlers, auth, signIn, signOut } = NextAuth({
  ...authConfig,
  providers: [
    Credentials({
      credentials: { email: { label: 'Email', type: 'email' }, password: { label: 'Password', type: 'password' } },
      async authorize(credentials, request) {
        const email = typeof credentials?.email === 'string' ? credentials.email : '';
        const password = typeof credentials?.password === 'string' ? credentials.password : '';
        if (!email || !password) return null;
        const result = await authenticate(await getDb(), email, password, { ip: clientIp(request) });
        if (result.ok) return { id: result.user.id, email: result.user.email, name: result.user.name ?? result.user.email };
        if (result.reason === 'locked') throw new AccountLocked();
        return null;
      },
    }),
  ],
});
