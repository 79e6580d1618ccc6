/**
 * Sign-in hardening (OWASP ASVS 2.2), against a real catalog (embedded, and PostgreSQL when
 * TEST_DATABASE_URL is set): per-client throttling across accounts, the same answers for unknown and known
 * emails, a lockout an attacker cannot turn against the admin, X-Forwarded-For only from trusted proxies,
 * unlock, and the CLI's user unlock / passwd. Delays are recorded, not slept.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { and, desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client';
import { auditEvents, settings } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import { clientAddress, clientKey, PEER_HEADER, peerFromHeaders } from '../../server/auth/client-address';
import { createSession, sessionUser } from '../../server/auth/sessions';
import { authenticate, type SignInResult } from '../../server/auth/signin';
import { DEFAULT_THROTTLE } from '../../server/auth/throttle';
import { createUser, listUsers, unlockUser } from '../../server/auth/users';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

const run = promisify(execFile);
const PASSWORD = 'the-right-password-1';

function record() {
  const sleeps: number[] = [];
  return { sleeps, sleep: async (ms: number) => void sleeps.push(ms) };
}
const shape = (r: SignInResult) => (r.ok ? 'ok' : r.reason);

describe.each(CATALOG_MODES)('sign-in hardening (%s catalog)', (mode) => {
  let t: TestEnv;
  let db: Db;
  let engine: BackupEngine;

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
    db = engine.catalog.db;
    for (const email of ['admin@corp.test', 'a1@corp.test', 'a2@corp.test', 'a3@corp.test', 'a4@corp.test', 'a5@corp.test', 'known@corp.test', 'cli@corp.test']) {
      await createUser(db, { email, password: PASSWORD, role: email.startsWith('admin') ? 'admin' : 'viewer' });
    }
  }, 300_000);
  afterAll(async () => t?.cleanup());

  it('throttles 20 wrong passwords spread over 4 accounts from one client, then blocks that client only', async () => {
    const attacker = '203.0.113.7';
    const { sleeps, sleep } = record();
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(shape(await authenticate(db, `a${(i % 4) + 1}@corp.test`, `guess-${i}`, { ip: attacker, sleep })));
    expect(answers.every((a) => a === 'invalid')).toBe(true);
    // Slowed before the block: the delays grow with the client's failures, whatever account is tried.
    expect(sleeps.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(sleeps[4]!).toBeGreaterThan(0);
    expect(sleeps[6]!).toBeGreaterThan(sleeps[4]!);
    expect(sleeps.every((ms, i) => i === 0 || ms >= sleeps[i - 1]!)).toBe(true);

    // The client is now blocked: even a right password for an account it never tried is refused unchecked.
    const blocked = await authenticate(db, 'a5@corp.test', PASSWORD, { ip: attacker, sleep });
    expect(blocked).toMatchObject({ ok: false, reason: 'throttled' });
    expect((blocked as { retryAfterS: number }).retryAfterS).toBeGreaterThan(60);
    // Everyone else is unaffected.
    expect(await authenticate(db, 'a5@corp.test', PASSWORD, { ip: '198.51.100.20', sleep })).toMatchObject({ ok: true });
    expect(await authenticate(db, 'a1@corp.test', PASSWORD, { ip: '198.51.100.21', sleep })).toMatchObject({ ok: true });

    const blocks = await db.select().from(auditEvents).where(eq(auditEvents.action, 'auth.block')).orderBy(desc(auditEvents.id));
    expect(blocks.some((b) => b.details.scope === 'client' && b.details.client === attacker)).toBe(true);
    const denied = await db.select().from(auditEvents).where(and(eq(auditEvents.action, 'auth.signin'), eq(auditEvents.outcome, 'denied')));
    expect(denied.some((d) => d.target === 'a5@corp.test' && d.details.reason === 'throttled' && d.details.scope === 'client')).toBe(true);
  });

  it('answers unknown and known emails alike, also once blocked, with the same delays', async () => {
    const known = record();
    const unknown = record();
    const knownAnswers: string[] = [];
    const unknownAnswers: string[] = [];
    for (let i = 0; i < 7; i++) {
      knownAnswers.push(shape(await authenticate(db, 'known@corp.test', `nope-${i}`, { ip: '192.0.2.50', sleep: known.sleep })));
      unknownAnswers.push(shape(await authenticate(db, 'ghost@corp.test', `nope-${i}`, { ip: '192.0.2.51', sleep: unknown.sleep })));
    }
    expect(knownAnswers).toEqual(['invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'throttled', 'throttled']);
    expect(unknownAnswers).toEqual(knownAnswers);
    expect(unknown.sleeps).toEqual(known.sleeps);
    // Blocked, the known account's right password gets exactly the unknown email's answer.
    const k = await authenticate(db, 'known@corp.test', PASSWORD, { ip: '192.0.2.50', sleep: known.sleep });
    const u = await authenticate(db, 'ghost@corp.test', PASSWORD, { ip: '192.0.2.51', sleep: unknown.sleep });
    expect(Object.keys(k)).toEqual(Object.keys(u));
    expect(shape(k)).toBe('throttled');
    expect(shape(u)).toBe('throttled');
  });

  it('spends the same argon2 work on an unknown email as on a wrong password', async () => {
    const { sleep } = record();
    const time = async (email: string, ip: string) => {
      const start = performance.now();
      await authenticate(db, email, 'wrong-password', { ip, sleep });
      return performance.now() - start;
    };
    const knownMs: number[] = [];
    const unknownMs: number[] = [];
    for (let i = 0; i < 3; i++) {
      knownMs.push(await time('a2@corp.test', `192.0.2.${100 + i}`));
      unknownMs.push(await time(`nobody${i}@corp.test`, `192.0.2.${110 + i}`));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[1]!;
    // Loose on purpose (a shared, busy machine): without a dummy hash an unknown email answers ~10× faster.
    expect(median(unknownMs)).toBeGreaterThan(median(knownMs) * 0.5);
  });

  it("lets the admin sign in from another client after an attacker's 5 failures", async () => {
    const { sleep } = record();
    for (let i = 0; i < 5; i++) await authenticate(db, 'admin@corp.test', `attack-${i}`, { ip: '203.0.113.66', sleep });
    // The attacker's client is shut out for the admin account, even with the right password …
    expect(await authenticate(db, 'admin@corp.test', PASSWORD, { ip: '203.0.113.66', sleep })).toMatchObject({ ok: false, reason: 'throttled' });
    // … the admin, anywhere else, is not.
    expect(await authenticate(db, 'admin@corp.test', PASSWORD, { ip: '192.0.2.10', sleep })).toMatchObject({ ok: true, user: { role: 'admin' } });
    expect((await listUsers(db)).find((u) => u.email === 'admin@corp.test')?.lockedUntil).toBeTruthy();
  });

  it('a password-guessing run from one client adds a few audit rows that count every attempt, and makes no catalog snapshot due', async () => {
    const attacker = '203.0.113.99';
    await engine.audit({ actor: 'admin@corp.test', action: 'user.create', target: 'before-the-attack' });
    await engine.snapshotCatalog('close');
    const stateBefore = (await db.select().from(settings).where(eq(settings.key, 'catalog_snapshot')))[0]?.value;
    expect(stateBefore).toBeTruthy();
    const { sleep } = record();
    for (let i = 0; i < 24; i++) await authenticate(db, `guess${i}@corp.test`, `guess-${i}`, { ip: attacker, sleep });
    const rows = (await db.select().from(auditEvents).where(eq(auditEvents.action, 'auth.signin'))).filter((r) => r.details.ip === attacker);
    // One row per email until the client is blocked (its first 20 failures, the client limit), then one row for all refusals.
    expect(rows.length).toBe(DEFAULT_THROTTLE.client.limit + 1);
    const attempts = rows.reduce((n, r) => n + (typeof r.details.repeats === 'number' ? r.details.repeats : 1), 0);
    expect(attempts).toBe(24);
    const refused = rows.filter((r) => r.details.reason === 'throttled');
    expect(refused).toHaveLength(1);
    expect(refused[0]!.details).toMatchObject({ scope: 'client', last_at: expect.any(String) });
    // Nothing a catalog snapshot holds changed: closing writes none.
    await engine.snapshotCatalog('close');
    expect((await db.select().from(settings).where(eq(settings.key, 'catalog_snapshot')))[0]?.value).toEqual(stateBefore);
  });

  it('unlock lifts the blocks on an account at once, and is audited', async () => {
    const { sleep } = record();
    const ip = '203.0.113.80';
    for (let i = 0; i < 5; i++) await authenticate(db, 'a5@corp.test', `typo-${i}`, { ip, sleep });
    expect(await authenticate(db, 'a5@corp.test', PASSWORD, { ip, sleep })).toMatchObject({ reason: 'throttled' });
    const a5 = (await listUsers(db)).find((u) => u.email === 'a5@corp.test')!;
    expect(a5.lockedUntil).toBeTruthy();
    expect(await unlockUser(db, a5.id, { actor: 'admin@corp.test' })).toMatchObject({ lockedUntil: null });
    expect(await authenticate(db, 'a5@corp.test', PASSWORD, { ip, sleep })).toMatchObject({ ok: true });
    const [audit] = await db.select().from(auditEvents).where(eq(auditEvents.action, 'user.unlock')).orderBy(desc(auditEvents.id)).limit(1);
    expect(audit).toMatchObject({ actor: 'admin@corp.test', target: 'a5@corp.test', details: { blocks_lifted: 1 } });
  });

  it('CLI: user unlock and user passwd (from stdin) work, and passwd ends the sessions', async () => {
    const { sleep } = record();
    const ip = '203.0.113.90';
    for (let i = 0; i < 5; i++) await authenticate(db, 'cli@corp.test', `typo-${i}`, { ip, sleep });
    const cli = (args: string[], input?: string) => {
      const child = run(process.execPath, [path.resolve('bin/plexichat-backup.mjs'), ...args], { env: { ...t.env } as NodeJS.ProcessEnv, timeout: 120_000 });
      if (input !== undefined) child.child.stdin?.end(input);
      return child;
    };
    const unlocked = await cli(['user', 'unlock', '--email', 'CLI@corp.test', '--json']);
    expect(JSON.parse(unlocked.stdout)).toMatchObject({ email: 'cli@corp.test', lockedUntil: null });
    expect(await authenticate(db, 'cli@corp.test', PASSWORD, { ip, sleep })).toMatchObject({ ok: true });

    const u = (await listUsers(db)).find((x) => x.email === 'cli@corp.test')!;
    const sid = await createSession(db, u.id, ip);
    expect(await sessionUser(db, sid)).not.toBeNull();
    const changed = await cli(['user', 'passwd', '--email', 'cli@corp.test'], 'a-brand-new-password\n');
    expect(changed.stdout).toContain('Set a new password for cli@corp.test');
    expect(await sessionUser(db, sid)).toBeNull();
    expect(await authenticate(db, 'cli@corp.test', PASSWORD, { ip, sleep })).toMatchObject({ ok: false });
    expect(await authenticate(db, 'cli@corp.test', 'a-brand-new-password', { ip: '192.0.2.91', sleep })).toMatchObject({ ok: true });

    const missing = await cli(['user', 'unlock', '--email', 'nobody@corp.test']).catch((e: { code: number; stderr: string }) => e);
    expect(missing).toMatchObject({ code: 4 });
    expect((missing as { stderr: string }).stderr).toContain('No user has the email nobody@corp.test');
  }, 300_000);
});

describe('the client address', () => {
  it('ignores X-Forwarded-For unless the socket peer is a trusted proxy', () => {
    expect(clientAddress('203.0.113.5', '10.9.9.9', [])).toBe('203.0.113.5');
    expect(clientAddress('203.0.113.5', '10.9.9.9', ['10.0.0.0/8'])).toBe('203.0.113.5');
    expect(clientAddress('10.0.0.2', '198.51.100.1', ['10.0.0.0/8'])).toBe('198.51.100.1');
    // A client cannot hide behind a prepended entry: the nearest hop no trusted proxy vouches for wins.
    expect(clientAddress('10.0.0.2', '1.1.1.1, 198.51.100.1, 10.0.0.3', ['10.0.0.0/8'])).toBe('198.51.100.1');
    expect(clientAddress('10.0.0.2', 'garbage, 10.0.0.3', ['10.0.0.0/8'])).toBe('10.0.0.3');
    expect(clientAddress('::ffff:127.0.0.1', '198.51.100.1', ['127.0.0.1'])).toBe('198.51.100.1');
    expect(clientAddress('::1', '198.51.100.1', ['::1/128'])).toBe('198.51.100.1');
    expect(clientAddress(null, '198.51.100.1', ['10.0.0.0/8'])).toBeNull();
  });

  it('believes the peer header only with this process token (set by bin/server.mjs)', () => {
    const g = globalThis as Record<symbol, unknown>;
    const headers = new Headers({ [PEER_HEADER]: 'forged 10.0.0.1' });
    expect(peerFromHeaders(headers)).toBeNull();
    g[Symbol.for('plexichat.peerToken')] = 'tok';
    try {
      expect(peerFromHeaders(headers)).toBeNull();
      expect(peerFromHeaders(new Headers({ [PEER_HEADER]: 'tok ::ffff:192.0.2.1' }))).toBe('192.0.2.1');
    } finally {
      delete g[Symbol.for('plexichat.peerToken')];
    }
  });

  it('throttles IPv6 clients per /64', () => {
    expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(clientKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(clientKey('192.0.2.1')).toBe('192.0.2.1');
    expect(clientKey(null)).toBe('unknown');
  });
});
