/** Auth.js (next-auth v5): email + password sign-in against the users in the catalog, with server-side sessions. */
import NextAuth, { CredentialsSignin } from 'next-auth';
import Credentials from 'next-auth/providers/credentials';
import { getDb, getEngine } from '../context';
import { clientAddress, peerFromHeaders, trustedProxies } from './client-address';
import { authConfig } from './config';
import { createSession, revokeSession } from './sessions';
import { authenticate } from './signin';

/**
 * Too many failures (for this email from this client, from this client, or for this email). Its `code`
 * reaches the sign-in form. Answered the same whether or not the email has an account.
 */
export class SignInThrottled extends CredentialsSignin {
  override code = 'throttled';
}

let proxies: { source: readonly string[]; list: ReturnType<typeof trustedProxies> } | undefined;
async function requestClient(request: Request): Promise<string | null> {
  const source = (await getEngine()).config.trusted_proxies;
  if (proxies?.source !== source) proxies = { source, list: trustedProxies(source) };
  return clientAddress(peerFromHeaders(request.headers), request.headers.get('x-forwarded-for'), proxies.list);
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
        const db = await getDb();
        const ip = await requestClient(request);
        const result = await authenticate(db, email, password, { ip });
        if (result.ok) {
          const sid = await createSession(db, result.user.id, ip);
          return { id: result.user.id, email: result.user.email, name: result.user.name ?? result.user.email, sid };
        }
        if (result.reason === 'throttled') throw new SignInThrottled();
        return null;
      },
    }),
  ],
  events: {
    // Every sign-out (the console's button, or POST /api/auth/signout) ends the session on the server too.
    async signOut(message) {
      const sid = 'token' in message ? message.token?.sid : undefined;
      if (typeof sid === 'string') await revokeSession(await getDb(), sid);
    },
  },
});
