import { index, integer, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';
import { users } from './users';

/**
 * Console sessions. The session cookie (a JWT) carries the row's id; every request checks the row, so
 * signing out or a password change ends a session at once instead of when its cookie expires.
 */
export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(), // 32 random bytes, base64url
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    // Refreshed at most every few minutes: the idle timeout, without a write on every request.
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    client: text('client'), // address at sign-in, for the audit and the admin
  },
  (t) => [index('sessions_user_idx').on(t.userId), index('sessions_seen_idx').on(t.lastSeenAt)],
);

export const THROTTLE_SCOPES = ['pair', 'client', 'account'] as const;
export type ThrottleScope = (typeof THROTTLE_SCOPES)[number];

/**
 * Sign-in throttling, shared by every console process. One row per scope: `pair` (email + client address),
 * `client` (address, email ''), `account` (email, client ''). Keyed by the typed email whether or not an
 * account exists, so throttling behaves the same for unknown and known emails. Rows idle for a day are pruned.
 */
export const signinThrottle = pgTable(
  'signin_throttle',
  {
    scope: text('scope').$type<ThrottleScope>().notNull(),
    email: text('email').notNull().default(''),
    client: text('client').notNull().default(''),
    failures: integer('failures').notNull().default(0),
    windowStart: timestamp('window_start', { withTimezone: true }),
    blockedUntil: timestamp('blocked_until', { withTimezone: true }),
    // A client that has signed in to this account before is not shut out by an account-wide block.
    lastSuccessAt: timestamp('last_success_at', { withTimezone: true }),
    updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.scope, t.email, t.client] }), index('signin_throttle_email_idx').on(t.email), index('signin_throttle_updated_idx').on(t.updatedAt)],
);
