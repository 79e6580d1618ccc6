/**
 * The part of the Auth.js configuration that needs no database: sessions, pages, callbacks. The proxy uses
 * this alone (it only checks that a session exists); server/auth/index.ts adds the Credentials provider.
 */
import type { NextAuthConfig } from 'next-auth';

export const SESSION_MAX_AGE_S = 8 * 60 * 60;

export const authConfig = {
  trustHost: true,
  pages: { signIn: '/login' },
  session: { strategy: 'jwt', maxAge: SESSION_MAX_AGE_S, updateAge: 15 * 60 },
  providers: [],
  callbacks: {
    // The session id (server/auth/sessions.ts) rides in the JWT; getCurrentUser checks it on every request.
    jwt({ token, user }) {
      if (user?.id) token.sub = user.id;
      const sid = (user as { sid?: unknown } | undefined)?.sid;
      if (typeof sid === 'string') token.sid = sid;
      return token;
    },
    session({ session, token }) {
      if (token.sub) session.user.id = token.sub;
      if (typeof token.sid === 'string') (session as { sid?: string }).sid = token.sid;
      return session;
    },
  },
  logger: {
    // Auth.js logs whole error objects; keep log lines to the error's name so nothing a user typed is echoed.
    error(error) {
      // A wrong password is an expected outcome (and audited), not a server error. Names are minified: use `type`.
      const type = (error as { type?: string }).type ?? error.name;
      if (type !== 'CredentialsSignin') console.error(`[auth] ${type}: ${error.message.split('\n')[0]}`);
    },
    warn(code) {
      console.warn(`[auth] warning ${code}`);
    },
    debug() {},
  },
} satisfies NextAuthConfig;

/** Only same-site paths may be a post-sign-in destination (no open redirects). */
export function safeCallbackPath(value: unknown): string {
  if (typeof value !== 'string' || !value.startsWith('/') || value.startsWith('//') || value.startsWith('/\\')) return '/';
  if (value.startsWith('/login') || value.startsWith('/api/')) return '/';
  return value;
}
