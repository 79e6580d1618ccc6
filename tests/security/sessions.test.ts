/**
 * Server-side sessions: sign-out and password changes end a session on the server, so a copied session
 * cookie stops working. The session functions against real catalogs, then the real console over HTTP
 * (bin/start.mjs, Chromium): the console's own Sign out button, an admin's password reset and unlock on
 * the Users page, and the audit's client address with a forged X-Forwarded-For.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client';
import { createSession, revokeSession, SESSION_IDLE_MS, sessionUser } from '../../server/auth/sessions';
import { createUser, setPassword } from '../../server/auth/users';
import { closeContext, confirmDialog, cookieHeader, launchChromium, newContext, openPage, SHOTS, shot, signIn, signInAt, within } from '../e2e/browser';
import { type ConsoleServer, startConsole } from '../e2e/console-server';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

describe.each(CATALOG_MODES)('sessions (%s catalog)', (mode) => {
  let t: TestEnv;
  let db: Db;
  beforeAll(async () => {
    t = await makeEnv(mode);
    db = (await t.open()).catalog.db;
  }, 300_000);
  afterAll(async () => t?.cleanup());

  it('a session lives until it is revoked or idle too long', async () => {
    const u = await createUser(db, { email: 's@x.test', password: 'session-pass-1', role: 'viewer' });
    const sid = await createSession(db, u.id, '192.0.2.1');
    expect(await sessionUser(db, sid)).toMatchObject({ id: u.id });
    expect(await sessionUser(db, sid, new Date(Date.now() + SESSION_IDLE_MS + 60_000))).toBeNull();
    expect(await revokeSession(db, sid)).toBe(u.id);
    expect(await sessionUser(db, sid)).toBeNull();
    expect(await sessionUser(db, 'made-up')).toBeNull();
  });

  it("a password reset ends every session of that user, and no one else's", async () => {
    const a = await createUser(db, { email: 'r1@x.test', password: 'session-pass-1', role: 'viewer' });
    const b = await createUser(db, { email: 'r2@x.test', password: 'session-pass-1', role: 'viewer' });
    const [a1, a2, b1] = [await createSession(db, a.id, null), await createSession(db, a.id, null), await createSession(db, b.id, null)];
    await setPassword(db, a.id, 'another-password-2', { actor: 'admin@x.test' });
    expect(await sessionUser(db, a1)).toBeNull();
    expect(await sessionUser(db, a2)).toBeNull();
    expect(await sessionUser(db, b1)).toMatchObject({ id: b.id });
  });
});

describe('console over HTTP (Chromium)', () => {
  const VIEWER = { email: 'viewer@e2e.test', password: 'viewer-password-123' };
  let server: ConsoleServer;
  let browser: Browser;
  let admin: BrowserContext;
  let page: Page;

  const me = async (cookie: string) => {
    const res = await fetch(`${server.url}/api/trpc/auth.me`, { headers: { cookie }, signal: AbortSignal.timeout(60_000) });
    await res.arrayBuffer(); // read to the end: an unread body keeps its connection busy
    return res.status;
  };
  const query = async <T,>(cookie: string, proc: string, input: unknown): Promise<T> => {
    const res = await fetch(`${server.url}/api/trpc/${proc}?input=${encodeURIComponent(JSON.stringify(input))}`, { headers: { cookie }, signal: AbortSignal.timeout(60_000) });
    expect(res.status).toBe(200);
    return ((await res.json()) as { result: { data: T } }).result.data;
  };

  beforeAll(async () => {
    server = await startConsole();
    browser = await launchChromium();
    admin = await newContext(browser, server.url);
    page = await openPage(admin);
    await signInAt(page, '/', server.admin, server.log);
  }, 600_000);

  afterAll(async () => {
    if (server) await writeFile(path.join(SHOTS, '..', 'sessions-server.log'), server.log());
    await browser?.close();
    await server?.stop();
  }, 60_000);

  it('the session cookie copied before sign-out gets 401 after it', async () => {
    const ctx = await newContext(browser, server.url);
    const p = await openPage(ctx);
    await signInAt(p, '/', server.admin, server.log);
    const copied = await cookieHeader(ctx);
    expect(await me(copied)).toBe(200);
    await p.getByRole('button', { name: 'Sign out' }).click();
    await p.waitForURL(/\/login/);
    expect(await me(copied)).toBe(401);
    // The admin's other session (another browser) is untouched.
    expect(await me(await cookieHeader(admin))).toBe(200);
    await closeContext(ctx);
  }, 300_000); // a new browser session's first sign-in, on a machine running the rest of the suite

  it('audits the socket peer, not a forged X-Forwarded-For; an admin unlocks and resets a password from the Users page', async () => {
    await page.goto('/users');
    await page.getByLabel('New user email').fill(VIEWER.email);
    await page.getByLabel('Initial password').fill(VIEWER.password);
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('cell', { name: VIEWER.email }).waitFor();

    // An "attacker" claiming another address: 5 wrong passwords block the viewer from this client only.
    const forged = await within('browser.newContext', 60_000, browser.newContext({ baseURL: server.url, extraHTTPHeaders: { 'x-forwarded-for': '198.51.100.77', 'x-plexichat-peer': 'forged 198.51.100.78' } }));
    const attacker = await openPage(forged);
    await attacker.goto('/login');
    const answered = () => attacker.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login', { timeout: 60_000 });
    for (let i = 0; i < 5; i++) {
      await Promise.all([answered(), signIn(attacker, VIEWER.email, `wrong-password-${i}`)]);
      await attacker.getByRole('alert').filter({ hasText: 'Wrong email or password' }).waitFor({ timeout: 30_000 });
    }
    await signIn(attacker, VIEWER.email, VIEWER.password);
    await attacker.getByRole('alert').filter({ hasText: 'Too many failed sign-ins' }).waitFor({ timeout: 30_000 });
    const cookie = await cookieHeader(admin);
    const audit = await query<{ events: { action: string; target: string | null; details: Record<string, unknown> }[] }>(cookie, 'audit.list', { action: 'auth.signin', limit: 20 });
    const attempts = audit.events.filter((e) => e.target === VIEWER.email);
    // Repeated failures from one client share a row (details.repeats): every attempt is still counted.
    expect(attempts.reduce((n, e) => n + (typeof e.details.repeats === 'number' ? e.details.repeats : 1), 0)).toBeGreaterThanOrEqual(6);
    for (const e of attempts) expect(['127.0.0.1', '::1']).toContain(e.details.ip);

    // The Users page shows the lock; Unlock (confirmed) lifts it.
    await page.reload();
    const row = page.getByRole('row').filter({ hasText: VIEWER.email });
    await row.getByText(/locked until/).waitFor();
    await shot(page, 'users-locked');
    await row.getByRole('button', { name: 'Unlock' }).click();
    await confirmDialog(page, 'Unlock');
    await row.getByText('active').waitFor();

    // The viewer signs in (its cookie copied), then an admin resets the password: that cookie is refused.
    await signIn(attacker, VIEWER.email, VIEWER.password);
    await attacker.waitForURL(`${server.url}/`);
    const viewerCookie = await cookieHeader(forged);
    expect(await me(viewerCookie)).toBe(200);
    await row.getByRole('button', { name: 'Reset password' }).click();
    const dialog = page.getByRole('alertdialog', { name: `Reset the password of ${VIEWER.email}` });
    await dialog.getByLabel('New password').fill('a-new-viewer-password');
    await shot(page, 'users-reset-password');
    await dialog.getByRole('button', { name: 'Yes, set the password' }).click();
    await page.getByText(`Set a new password for ${VIEWER.email}; their sessions have ended.`).waitFor();
    expect(await page.getByRole('alertdialog').count()).toBe(0);
    expect(await me(viewerCookie)).toBe(401);
    await shot(page, 'users-after-reset');
    await closeContext(forged);
  });
});
