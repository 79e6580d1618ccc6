/**
 * Checking a sign-in: argon2id verification, slowing repeated failures, and locking the account for a
 * while after too many. Every attempt, failure and lock lands in the audit trail. Framework-free.
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { auditEvents, users } from '../../db/schema';
import { dummyHash, verifyPassword } from './password';
import { normalizeEmail, type PublicUser, toPublicUser } from './users';

export interface LockoutPolicy {
  /** Failures in a row before the account is locked. */
  maxFailures: number;
  lockMs: number;
  /** Failures in a row after which each answer is delayed (doubling, up to maxDelayMs). */
  slowAfter: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_POLICY: LockoutPolicy = { maxFailures: 5, lockMs: 15 * 60_000, slowAfter: 2, baseDelayMs: 500, maxDelayMs: 4000 };

export type SignInResult =
  | { ok: true; user: PublicUser }
  | { ok: false; reason: 'invalid' }
  | { ok: false; reason: 'locked'; lockedUntil: string };

export interface SignInOptions {
  ip?: string | null;
  policy?: LockoutPolicy;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

/** Failures for emails that have no account, kept in memory so unknown and known emails are slowed alike. */
const unknownFailures = new Map<string, number>();

export function delayFor(failures: number, p: LockoutPolicy): number {
  if (failures < p.slowAfter) return 0;
  return Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (failures - p.slowAfter));
}

export async function authenticate(db: Db, rawEmail: string, password: string, opts: SignInOptions = {}): Promise<SignInResult> {
  const p = opts.policy ?? DEFAULT_POLICY;
  const now = opts.now ?? (() => new Date());
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const email = normalizeEmail(rawEmail).slice(0, 320);
  const details = opts.ip ? { ip: opts.ip } : {};
  const audit = (action: string, outcome: 'success' | 'failure' | 'denied', extra: Record<string, unknown> = {}) =>
    db.insert(auditEvents).values({ actor: email || '(empty)', action, target: email || null, outcome, details: { ...details, ...extra } });

  const [row] = email ? await db.select().from(users).where(eq(users.email, email)) : [];
  if (!row) {
    await verifyPassword(await dummyHash(), password);
    const n = (unknownFailures.get(email) ?? 0) + 1;
    unknownFailures.set(email, n);
    if (unknownFailures.size > 10_000) unknownFailures.clear();
    await audit('auth.signin', 'failure', { reason: 'unknown_user' });
    await sleep(delayFor(n, p));
    return { ok: false, reason: 'invalid' };
  }

  if (row.lockedUntil && row.lockedUntil > now()) {
    await audit('auth.signin', 'denied', { reason: 'locked', locked_until: row.lockedUntil.toISOString() });
    await sleep(p.maxDelayMs);
    return { ok: false, reason: 'locked', lockedUntil: row.lockedUntil.toISOString() };
  }

  const good = await verifyPassword(row.passwordHash, password);
  if (good && !row.disabled) {
    const [updated] = await db.update(users).set({ failedLogins: 0, lockedUntil: null, lastLoginAt: now() }).where(eq(users.id, row.id)).returning();
    await audit('auth.signin', 'success');
    return { ok: true, user: toPublicUser(updated!) };
  }
  if (good && row.disabled) {
    await audit('auth.signin', 'denied', { reason: 'disabled' });
    await sleep(delayFor(p.slowAfter, p));
    return { ok: false, reason: 'invalid' };
  }

  // Count the failure atomically, so parallel guesses cannot slip past the limit.
  const [counted] = await db
    .update(users)
    .set({ failedLogins: sql`${users.failedLogins} + 1` })
    .where(eq(users.id, row.id))
    .returning({ failures: users.failedLogins });
  const failures = counted?.failures ?? 1;
  await audit('auth.signin', 'failure', { reason: 'bad_password', failures });
  if (failures >= p.maxFailures) {
    const until = new Date(now().getTime() + p.lockMs);
    await db.update(users).set({ lockedUntil: until, failedLogins: 0 }).where(eq(users.id, row.id));
    await audit('auth.lock', 'success', { failures, locked_until: until.toISOString() });
    await sleep(delayFor(failures, p));
    return { ok: false, reason: 'locked', lockedUntil: until.toISOString() };
  }
  await sleep(delayFor(failures, p));
  return { ok: false, reason: 'invalid' };
}
