/**
 * Server-side sessions. The session cookie is a JWT that carries a session id; a request is signed in only
 * while that id's row exists, is not revoked and has been used within the idle timeout. Sign-out revokes
 * the row, a password change or reset revokes all of the user's rows: a copied cookie stops working at once.
 * Framework-free.
 */
import { and, eq, gt, isNull, lt, or } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/client';
import { sessions, users } from '../../db/schema';
import { SESSION_MAX_AGE_S } from './config';

/** Same as the cookie's lifetime: unused for this long, a session is over. */
export const SESSION_IDLE_MS = SESSION_MAX_AGE_S * 1000;
/** last_seen_at is refreshed at most this often, so most requests only read. */
const TOUCH_MS = 5 * 60_000;

export async function createSession(db: Db, userId: string, client: string | null, now = new Date()): Promise<string> {
  const id = randomBytes(32).toString('base64url');
  await db.insert(sessions).values({ id, userId, client, createdAt: now, lastSeenAt: now });
  await pruneSessions(db, now);
  return id;
}

type UserRow = typeof users.$inferSelect;

/** The user of a live session, or null (unknown, revoked or idle too long). */
export async function sessionUser(db: Db, sessionId: string, now = new Date()): Promise<UserRow | null> {
  const [row] = await db
    .select({ user: users, lastSeenAt: sessions.lastSeenAt })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt), gt(sessions.lastSeenAt, new Date(now.getTime() - SESSION_IDLE_MS))));
  if (!row) return null;
  if (now.getTime() - row.lastSeenAt.getTime() > TOUCH_MS) {
    await db.update(sessions).set({ lastSeenAt: now }).where(eq(sessions.id, sessionId));
  }
  return row.user;
}

/** Ends one session (sign-out). Returns the user id it belonged to, or null when it was already over. */
export async function revokeSession(db: Db, sessionId: string, now = new Date()): Promise<string | null> {
  const [row] = await db
    .update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt)))
    .returning({ userId: sessions.userId });
  return row?.userId ?? null;
}

/** Ends every session of a user (password change or reset). Takes a transaction so it lands with the change. */
export async function revokeUserSessions(db: Pick<Db, 'update'>, userId: string, now = new Date()): Promise<number> {
  const rows = await db
    .update(sessions)
    .set({ revokedAt: now })
    .where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)))
    .returning({ id: sessions.id });
  return rows.length;
}

/** Revoked or idle sessions are kept until no cookie could still name them, then deleted. */
async function pruneSessions(db: Db, now: Date): Promise<void> {
  const expired = new Date(now.getTime() - SESSION_IDLE_MS);
  await db.delete(sessions).where(or(lt(sessions.lastSeenAt, expired), lt(sessions.revokedAt, expired)));
}
