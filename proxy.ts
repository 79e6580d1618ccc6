/**
 * Signed-out visitors of any console page go to /login, remembering where they were going (links in
 * alert emails open the exact page after sign-in). This is only the door: every tRPC procedure checks the
 * session and the permission matrix itself.
 */
import NextAuth from 'next-auth';
import { NextResponse } from 'next/server';
import { authConfig } from './server/auth/config';

const { auth } = NextAuth(authConfig);

export default auth((req) => {
  if (req.auth?.user) return NextResponse.next();
  const url = new URL('/login', req.nextUrl.origin);
  const back = req.nextUrl.pathname + req.nextUrl.search;
  if (back !== '/') url.searchParams.set('callbackUrl', back);
  return NextResponse.redirect(url);
});

export const config = {
  matcher: ['/((?!api/|_next/|login|favicon\\.ico|icon\\.svg|robots\\.txt).*)'],
};
