/**
 * The signed-in user, read fresh from the catalog on each request: a role change or a disabled account
 * takes effect at once, not when the session cookie expires. The cookie must also name a live session
 * (server/auth/sessions.ts): after sign-out or a password change, a copy of the old cookie is refused.
 */
import { getDb } from '../context';
import { auth } from './index';
import { sessionUser } from './sessions';
import { type PublicUser, toPublicUser } from './users';

/** The session id of the current request's cookie, or null (signed out, or a cookie from before sessions were tracked). */
export async function currentSessionId(): Promise<{ userId: string; sid: string } | null> {
  const session = await auth();
  const userId = session?.user?.id;
  const sid = (session as { sid?: unknown } | null)?.sid;
  return userId && typeof sid === 'string' ? { userId, sid } : null;
}

export async function getCurrentUser(): Promise<PublicUser | null> {
  const current = await currentSessionId();
  if (!current) return null;
  const db = await getDb();
  const row = await sessionUser(db, current.sid);
  if (!row || row.id !== current.userId || row.disabled) return null;
  return toPublicUser(row);
}
