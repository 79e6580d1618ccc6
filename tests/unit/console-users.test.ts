/** Users service, sign-in basics, and first-admin bootstrap, against the embedded catalog (attacks: tests/security/). */
import { desc } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client';
import { auditEvents } from '../../db/schema';
import { ensureFirstAdmin } from '../../server/auth/bootstrap';
import { authenticate } from '../../server/auth/signin';
import { DEFAULT_THROTTLE, delayFor, type ThrottlePolicy } from '../../server/auth/throttle';
import { createUser, listUsers, setDisabled, setPassword, setRole, unlockUser, UserError } from '../../server/auth/users';
import { makeEnv, type TestEnv } from '../support/engine-env';

let t: TestEnv;
let db: Db;
const policy: ThrottlePolicy = { ...DEFAULT_THROTTLE, pair: { ...DEFAULT_THROTTLE.pair, limit: 3, blockMs: 60_000 } };
const sleeps: number[] = [];
const sleep = async (ms: number) => void sleeps.push(ms);

async function lastAudit(n = 1) {
  return db.select().from(auditEvents).orderBy(desc(auditEvents.id)).limit(n);
}

beforeAll(async () => {
  t = await makeEnv('embedded');
  db = (await t.open()).catalog.db;
});
afterAll(async () => t?.cleanup());

describe('first admin', () => {
  it('creates an admin with a generated password printed once, and nothing on later starts', async () => {
    const lines: string[] = [];
    await ensureFirstAdmin(db, { log: (l) => lines.push(l) });
    expect(lines).toHaveLength(1);
    const password = /password (\S+)/.exec(lines[0]!)?.[1];
    expect(password).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const r = await authenticate(db, 'Admin@Localhost', password!, { policy, sleep });
    expect(r).toMatchObject({ ok: true, user: { email: 'admin@localhost', role: 'admin' } });
    await ensureFirstAdmin(db, { email: 'other@x.io', password: 'whatever-long', log: (l) => lines.push(l) });
    expect(lines).toHaveLength(1);
  });
});

describe('users', () => {
  it('creates users with argon2id hashes that never leave the service', async () => {
    const u = await createUser(db, { email: ' Op@Example.com ', password: 'operator-pass-1', role: 'operator' }, { actor: 'admin@localhost' });
    expect(u).toMatchObject({ email: 'op@example.com', role: 'operator', disabled: false });
    expect(JSON.stringify(await listUsers(db))).not.toMatch(/argon2|passwordHash|password_hash/);
    const [audit] = await lastAudit();
    expect(audit).toMatchObject({ actor: 'admin@localhost', action: 'user.create', target: 'op@example.com' });
    await expect(createUser(db, { email: 'op@example.com', password: 'operator-pass-1', role: 'viewer' })).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(createUser(db, { email: 'short@example.com', password: 'short', role: 'viewer' })).rejects.toBeInstanceOf(UserError);
  });

  it('keeps at least one enabled admin', async () => {
    const admin = (await listUsers(db)).find((u) => u.role === 'admin')!;
    await expect(setRole(db, admin.id, 'viewer')).rejects.toMatchObject({ code: 'CONFLICT' });
    await expect(setDisabled(db, admin.id, true)).rejects.toMatchObject({ code: 'CONFLICT' });
    const op = (await listUsers(db)).find((u) => u.email === 'op@example.com')!;
    expect(await setRole(db, op.id, 'admin', { actor: 'admin@localhost' })).toMatchObject({ role: 'admin' });
    expect(await setDisabled(db, admin.id, true)).toMatchObject({ disabled: true });
    expect(await setDisabled(db, admin.id, false)).toMatchObject({ disabled: false });
  });
});

describe('sign-in', () => {
  it('slows repeated failures, blocks the email from that client, audits every attempt, and lets in after the block', async () => {
    await createUser(db, { email: 'v@example.com', password: 'viewer-pass-1', role: 'viewer' });
    const ip = '10.0.0.9';
    sleeps.length = 0;
    expect(await authenticate(db, 'v@example.com', 'wrong-1', { policy, sleep, ip })).toEqual({ ok: false, reason: 'invalid' });
    expect(await authenticate(db, 'v@example.com', 'wrong-2', { policy, sleep, ip })).toEqual({ ok: false, reason: 'invalid' });
    expect(await authenticate(db, 'v@example.com', 'wrong-3', { policy, sleep, ip })).toEqual({ ok: false, reason: 'invalid' });
    expect(sleeps).toEqual([0, delayFor(2, policy.pair, policy), delayFor(3, policy.pair, policy)]);
    expect(sleeps[2]!).toBeGreaterThan(sleeps[1]!);
    const [block, failure] = await lastAudit(2);
    expect(block).toMatchObject({ action: 'auth.block', target: 'v@example.com', details: { ip, scope: 'pair', client: ip } });
    expect(failure).toMatchObject({ action: 'auth.signin', outcome: 'failure', details: { ip, reason: 'bad_password', failures: { pair: 3 }, repeats: 3 } });
    expect((await listUsers(db)).find((u) => u.email === 'v@example.com')?.lockedUntil).toBeTruthy();

    // Blocked: even the right password is refused (and audited as denied) until the block ends.
    expect(await authenticate(db, 'v@example.com', 'viewer-pass-1', { policy, sleep, ip })).toMatchObject({ ok: false, reason: 'throttled' });
    expect((await lastAudit())[0]).toMatchObject({ action: 'auth.signin', outcome: 'denied', details: { reason: 'throttled', scope: 'pair' } });
    const later = () => new Date(Date.now() + 61_000);
    expect(await authenticate(db, 'v@example.com', 'viewer-pass-1', { policy, sleep, ip, now: later })).toMatchObject({ ok: true });
    expect((await lastAudit())[0]).toMatchObject({ action: 'auth.signin', outcome: 'success' });
  });

  it('answers unknown emails and disabled accounts like a wrong password', async () => {
    expect(await authenticate(db, 'nobody@example.com', 'x', { policy, sleep })).toEqual({ ok: false, reason: 'invalid' });
    expect((await lastAudit())[0]).toMatchObject({ action: 'auth.signin', outcome: 'failure', details: { reason: 'unknown_user' } });
    const v = (await listUsers(db)).find((u) => u.email === 'v@example.com')!;
    await setDisabled(db, v.id, true);
    expect(await authenticate(db, 'v@example.com', 'viewer-pass-1', { policy, sleep })).toEqual({ ok: false, reason: 'invalid' });
    expect((await lastAudit())[0]).toMatchObject({ outcome: 'denied', details: { reason: 'disabled' } });
    await setDisabled(db, v.id, false);
  });

  it('unlock and password reset are audited, and a reset refuses short passwords', async () => {
    const v = (await listUsers(db)).find((u) => u.email === 'v@example.com')!;
    expect(await unlockUser(db, v.id, { actor: 'admin@localhost' })).toMatchObject({ email: 'v@example.com', lockedUntil: null });
    expect((await lastAudit())[0]).toMatchObject({ actor: 'admin@localhost', action: 'user.unlock', target: 'v@example.com', details: { blocks_lifted: 0 } });
    await expect(setPassword(db, v.id, 'short')).rejects.toMatchObject({ code: 'INVALID' });
    await setPassword(db, v.id, 'a-new-viewer-pass', { actor: 'admin@localhost' });
    expect((await lastAudit())[0]).toMatchObject({ action: 'user.set_password', target: 'v@example.com', details: { sessions_revoked: 0 } });
    expect(JSON.stringify(await lastAudit())).not.toContain('a-new-viewer-pass');
    expect(await authenticate(db, 'v@example.com', 'a-new-viewer-pass', { policy, sleep, ip: '10.0.0.10' })).toMatchObject({ ok: true });
    await expect(unlockUser(db, 'no-such-id')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });
});
