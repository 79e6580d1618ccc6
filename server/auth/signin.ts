/**
 * Checking a sign-in: throttling (server/auth/throttle.ts), then argon2id verification. Unknown and known
 * emails take the same path and get the same answers: a throttled attempt is refused before any account is
 * looked at, and a wrong password and an unknown email both cost one argon2 verification. Every attempt
 * (with its outcome) and every block that starts lands in the audit trail; repeated failures of one kind from
 * one client within a minute add to one row (`repeats`, `last_at`), so hammering the form cannot grow the
 * trail by a row per attempt. Framework-free.
 */
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { auditEvents, users } from '../../db/schema';
import { clientKey } from './client-address';
import { dummyHash, verifyPassword } from './password';
import { activeBlock, DEFAULT_THROTTLE, delayFor as scopeDelay, failureDelay, prune, recordFailure, recordSuccess, reserve, type ThrottlePolicy } from './throttle';
import { normalizeEmail, type PublicUser, toPublicUser } from './users';

export type SignInResult =
  | { ok: true; user: PublicUser }
  | { ok: false; reason: 'invalid' }
  /** Too many failures for this email from this client, from this client, or for this email: wait. */
  | { ok: false; reason: 'throttled'; retryAfterS: number };

/** The delay schedule of one email from one client (what a user retrying a forgotten password meets). */
export const DEFAULT_POLICY = { slowAfter: DEFAULT_THROTTLE.pair.slowAfter, baseDelayMs: DEFAULT_THROTTLE.baseDelayMs, maxDelayMs: DEFAULT_THROTTLE.maxDelayMs };
export const delayFor = (failures: number, p: typeof DEFAULT_POLICY): number => scopeDelay(failures, p, p);

export interface SignInOptions {
  /** The client's address (server/auth/client-address.ts), null when unknown. */
  ip?: string | null;
  policy?: ThrottlePolicy;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

export async function authenticate(db: Db, rawEmail: string, password: string, opts: SignInOptions = {}): Promise<SignInResult> {
  const p = opts.policy ?? DEFAULT_THROTTLE;
  const now = (opts.now ?? (() => new Date()))();
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const email = normalizeEmail(rawEmail).slice(0, 320);
  const subject = { email, client: clientKey(opts.ip ?? null) };
  const base = { ip: opts.ip ?? null };
  const audit = (action: string, outcome: 'success' | 'failure' | 'denied', details: Record<string, unknown>) =>
    db.insert(auditEvents).values({ actor: email || '(empty)', action, target: email || null, outcome, details: { ...base, ...details } });
  const throttled = async (scope: string, until: Date | null): Promise<SignInResult> => {
    const details = { reason: 'throttled', scope, ...(until ? { blocked_until: until.toISOString() } : {}) };
    await auditRepeated(db, now, { actor: email || '(empty)', outcome: 'denied', ip: base.ip, reason: 'throttled', scope }, details, () => audit('auth.signin', 'denied', details));
    const retryAfterS = until ? Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 1000)) : 60;
    return { ok: false, reason: 'throttled', retryAfterS };
  };

  await prune(db, p, now);
  const block = await activeBlock(db, subject, p, now);
  if (block) return throttled(block.scope, block.until);
  const reservation = await reserve(db, subject, p, now);
  if (reservation.over) return throttled(reservation.over, null);

  const [row] = email ? await db.select().from(users).where(eq(users.email, email)) : [];
  // The same argon2 work whether or not the account exists, so timing does not tell them apart.
  const good = await verifyPassword(row?.passwordHash ?? (await dummyHash()), password);
  if (row && good && !row.disabled) {
    await recordSuccess(db, subject, now);
    const [updated] = await db.update(users).set({ lastLoginAt: now }).where(eq(users.id, row.id)).returning();
    await audit('auth.signin', 'success', {});
    return { ok: true, user: toPublicUser(updated!) };
  }

  // A disabled account with its right password is answered like a wrong password (and counted like one).
  const reason = !row ? 'unknown_user' : good ? 'disabled' : 'bad_password';
  const blocks = await recordFailure(db, subject, reservation, p, now);
  const outcome = reason === 'disabled' ? 'denied' : 'failure';
  const details = { reason, failures: reservation.counts };
  await auditRepeated(db, now, { actor: email || '(empty)', outcome, ip: base.ip, reason }, details, () => audit('auth.signin', outcome, details));
  for (const b of blocks) {
    await audit('auth.block', 'success', { scope: b.scope, client: b.scope === 'account' ? null : subject.client, blocked_until: b.until.toISOString() });
  }
  await sleep(failureDelay(reservation, p));
  return { ok: false, reason: 'invalid' };
}

/** Failures of one kind from one client within this window share one audit row. */
export const REPEAT_WINDOW_MS = 60_000;

interface RepeatKey {
  actor: string;
  outcome: 'failure' | 'denied';
  ip: string | null;
  reason: string;
  /** A throttled attempt: the scope that refused it. A client-wide block collapses across emails too. */
  scope?: string;
}

/**
 * Adds this attempt to the newest matching sign-in row of the last minute (its details become this attempt's,
 * with repeats + 1 and last_at), or writes a new row through `insert` when there is none.
 */
async function auditRepeated(db: Db, now: Date, k: RepeatKey, latest: Record<string, unknown>, insert: () => Promise<unknown>): Promise<void> {
  const since = new Date(now.getTime() - REPEAT_WINDOW_MS);
  const sameActor = k.scope === 'client' ? sql`` : sql`AND actor = ${k.actor}`;
  const sameScope = k.scope ? sql`AND details->>'scope' = ${k.scope}` : sql``;
  const hit = await db.execute(sql`
    UPDATE audit_events
    SET details = details || ${JSON.stringify(latest)}::jsonb || jsonb_build_object('repeats', COALESCE((details->>'repeats')::int, 1) + 1, 'last_at', ${now.toISOString()}::text)
    WHERE id = (
      SELECT id FROM audit_events
      WHERE action = 'auth.signin' AND outcome = ${k.outcome} AND at > ${since.toISOString()}::timestamptz
        AND details->>'ip' IS NOT DISTINCT FROM ${k.ip} AND details->>'reason' = ${k.reason} ${sameActor} ${sameScope}
      ORDER BY id DESC LIMIT 1)
    RETURNING id`);
  if (!hit.rows.length) await insert();
}
