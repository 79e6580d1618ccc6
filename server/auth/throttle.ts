/**
 * Sign-in throttling state in the catalog (shared by every console process), in three scopes:
 *
 * - `pair` (email + client): the lockout. 5 failures block that email *from that client* for 15 minutes,
 *   so an attacker cannot shut the real user out: they can still sign in from anywhere else.
 * - `client`: 20 failures from one address (whatever emails) block the address for 15 minutes.
 * - `account` (email, all clients): 100 failures an hour block the email for an hour, except from clients
 *   that signed in to it successfully in the last 30 days (OWASP's "known device" exemption).
 *
 * Failures are slowed exponentially before the blocks. Everything is keyed by the typed email, never by
 * whether an account exists, so unknown and known emails are throttled and answered alike. Framework-free.
 */
import { and, count, eq, gt, inArray, isNull, lt, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { signinThrottle, type ThrottleScope } from '../../db/schema';

export interface ScopeLimits {
  /** Failures within windowMs that start a block. */
  limit: number;
  windowMs: number;
  blockMs: number;
  /** Failures after which each failed answer is delayed (doubling from baseDelayMs, up to maxDelayMs). */
  slowAfter: number;
}

export interface ThrottlePolicy {
  pair: ScopeLimits;
  client: ScopeLimits;
  account: ScopeLimits;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A client that signed in to an account this recently is not blocked by that account's `account` block. */
  knownClientMs: number;
}

const MIN = 60_000;
export const DEFAULT_THROTTLE: ThrottlePolicy = {
  pair: { limit: 5, windowMs: 15 * MIN, blockMs: 15 * MIN, slowAfter: 2 },
  client: { limit: 20, windowMs: 15 * MIN, blockMs: 15 * MIN, slowAfter: 5 },
  account: { limit: 100, windowMs: 60 * MIN, blockMs: 60 * MIN, slowAfter: 10 },
  baseDelayMs: 500,
  maxDelayMs: 4000,
  knownClientMs: 30 * 24 * 60 * MIN,
};

export interface Subject {
  email: string;
  client: string;
}

type Row = typeof signinThrottle.$inferSelect;
const SCOPES: ThrottleScope[] = ['pair', 'client', 'account'];
const keyOf = (s: Subject, scope: ThrottleScope) => ({ scope, email: scope === 'client' ? '' : s.email, client: scope === 'account' ? '' : s.client });
const rowWhere = (s: Subject, scope: ThrottleScope) => {
  const k = keyOf(s, scope);
  return and(eq(signinThrottle.scope, scope), eq(signinThrottle.email, k.email), eq(signinThrottle.client, k.client));
};

export function delayFor(failures: number, limits: Pick<ScopeLimits, 'slowAfter'>, p: Pick<ThrottlePolicy, 'baseDelayMs' | 'maxDelayMs'>): number {
  if (failures < limits.slowAfter) return 0;
  return Math.min(p.maxDelayMs, p.baseDelayMs * 2 ** (failures - limits.slowAfter));
}

export interface Block {
  scope: ThrottleScope;
  until: Date;
}

/** The block that refuses this attempt before any password is checked, if one is in force. */
export async function activeBlock(db: Db, s: Subject, p: ThrottlePolicy, now: Date): Promise<Block | null> {
  const rows = await db
    .select()
    .from(signinThrottle)
    .where(or(...SCOPES.map((scope) => rowWhere(s, scope))));
  const by = (scope: ThrottleScope) => rows.find((r) => r.scope === scope);
  const known = isKnownClient(by('pair'), p, now);
  for (const scope of SCOPES) {
    const until = by(scope)?.blockedUntil;
    if (until && until > now && !(scope === 'account' && known)) return { scope, until };
  }
  return null;
}

function isKnownClient(pair: Row | undefined, p: ThrottlePolicy, now: Date): boolean {
  return !!pair?.lastSuccessAt && now.getTime() - pair.lastSuccessAt.getTime() < p.knownClientMs;
}

export interface Reservation {
  counts: Record<ThrottleScope, number>;
  known: boolean;
  /** Set when parallel attempts already used up a scope's budget: refuse this one unchecked. */
  over: ThrottleScope | null;
}

/**
 * Counts this attempt as a failure in every scope *before* the password is checked (one atomic statement),
 * so a burst of parallel guesses cannot all slip in under the limit; a success gives the count back.
 */
export async function reserve(db: Db, s: Subject, p: ThrottlePolicy, now: Date): Promise<Reservation> {
  const cutoff = (scope: ThrottleScope) => new Date(now.getTime() - p[scope].windowMs).toISOString();
  const t = signinThrottle;
  const stale = sql`(${t.windowStart} IS NULL OR ${t.windowStart} < CASE ${t.scope} WHEN 'pair' THEN ${cutoff('pair')}::timestamptz WHEN 'client' THEN ${cutoff('client')}::timestamptz ELSE ${cutoff('account')}::timestamptz END)`;
  const rows = await db
    .insert(t)
    .values(SCOPES.map((scope) => ({ ...keyOf(s, scope), failures: 1, windowStart: now, updatedAt: now })))
    .onConflictDoUpdate({
      target: [t.scope, t.email, t.client],
      set: {
        failures: sql`CASE WHEN ${stale} THEN 1 ELSE ${t.failures} + 1 END`,
        windowStart: sql`CASE WHEN ${stale} THEN ${now.toISOString()}::timestamptz ELSE ${t.windowStart} END`,
        updatedAt: now,
      },
    })
    .returning();
  const by = (scope: ThrottleScope) => rows.find((r) => r.scope === scope);
  const counts = { pair: by('pair')?.failures ?? 1, client: by('client')?.failures ?? 1, account: by('account')?.failures ?? 1 };
  const known = isKnownClient(by('pair'), p, now);
  const over = SCOPES.find((scope) => counts[scope] > p[scope].limit && !(scope === 'account' && known)) ?? null;
  return { counts, known, over };
}

/** The delay before answering a failure: the largest any scope asks for. */
export function failureDelay(r: Reservation, p: ThrottlePolicy): number {
  return Math.max(...SCOPES.map((scope) => delayFor(r.counts[scope], p[scope], p)));
}

/** After a wrong password: starts the blocks whose limit this failure reached. Returns them (to audit). */
export async function recordFailure(db: Db, s: Subject, r: Reservation, p: ThrottlePolicy, now: Date): Promise<Block[]> {
  const blocks: Block[] = [];
  for (const scope of SCOPES) {
    if (r.counts[scope] < p[scope].limit) continue;
    const until = new Date(now.getTime() + p[scope].blockMs);
    // A fresh budget after the block; the block itself is what stops the next attempts.
    await db.update(signinThrottle).set({ blockedUntil: until, failures: 0, windowStart: null, updatedAt: now }).where(rowWhere(s, scope));
    blocks.push({ scope, until });
  }
  return blocks;
}

/** After a success: the pair starts afresh and remembers the client; the other scopes get the attempt back. */
export async function recordSuccess(db: Db, s: Subject, now: Date): Promise<void> {
  const t = signinThrottle;
  await db.update(t).set({ failures: 0, windowStart: null, blockedUntil: null, lastSuccessAt: now, updatedAt: now }).where(rowWhere(s, 'pair'));
  await db
    .update(t)
    .set({ failures: sql`GREATEST(${t.failures} - 1, 0)` })
    .where(or(rowWhere(s, 'client'), rowWhere(s, 'account')));
}

/** Ends every block on an email (its pairs and the account), keeping which clients are known. Returns how many were in force. */
export async function unlockEmail(db: Pick<Db, 'select' | 'update'>, email: string, now: Date): Promise<number> {
  const t = signinThrottle;
  const mine = and(eq(t.email, email), inArray(t.scope, ['pair', 'account']));
  const [blocked] = await db.select({ n: count() }).from(t).where(and(mine, gt(t.blockedUntil, now)));
  await db.update(t).set({ failures: 0, windowStart: null, blockedUntil: null, updatedAt: now }).where(mine);
  return blocked?.n ?? 0;
}

/** The latest block in force on each email (pair or account scope): what the Users page shows as "locked". */
export async function blocksByEmail(db: Db, emails: string[], now: Date): Promise<Map<string, Date>> {
  const out = new Map<string, Date>();
  if (!emails.length) return out;
  const t = signinThrottle;
  const rows = await db
    .select({ email: t.email, until: t.blockedUntil })
    .from(t)
    .where(and(inArray(t.email, emails), inArray(t.scope, ['pair', 'account']), gt(t.blockedUntil, now)));
  for (const r of rows) if (r.until && (!out.has(r.email) || r.until > out.get(r.email)!)) out.set(r.email, r.until);
  return out;
}

let lastPrune = 0;
/**
 * Keeps the table bounded: rows idle for a day with no block in force and no recent success go. Runs at
 * most once a minute per process; an attacker cycling addresses adds rows no faster than they are audited.
 */
export async function prune(db: Db, p: ThrottlePolicy, now: Date): Promise<void> {
  if (now.getTime() - lastPrune < MIN) return;
  lastPrune = now.getTime();
  const t = signinThrottle;
  const idle = new Date(now.getTime() - 24 * 60 * MIN);
  const forgotten = new Date(now.getTime() - p.knownClientMs);
  await db
    .delete(t)
    .where(and(lt(t.updatedAt, idle), or(isNull(t.blockedUntil), lt(t.blockedUntil, now)), or(isNull(t.lastSuccessAt), lt(t.lastSuccessAt, forgotten))));
}
