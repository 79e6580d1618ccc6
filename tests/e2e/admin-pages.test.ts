/**
 * The admin pages in Chromium against the real console: users (role change, disable, reset, unlock and
 * delete, each through the app's confirmation dialog, and the sessions they end), the keys page for an
 * operator, alert-setting errors in the form's words, the audit log's CSV export (and its refusal for
 * other roles, on the server), the 404 page and the favicon.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callMutation, confirmDialog, cookieHeader, launchChromium, newContext, SHOTS, shot, signIn, signInAt } from './browser';
import { type ConsoleServer, startConsole } from './console-server';

const OPERATOR = { email: 'operator-admin-pages@e2e.test', password: 'operator-password-1' };
const VIEWER = { email: 'viewer-admin-pages@e2e.test', password: 'viewer-password-12' };
const LEAVER = { email: 'leaver@e2e.test', password: 'leaver-password-12' };
const LOCKED = { email: 'locked@e2e.test', password: 'locked-password-12' };

let server: ConsoleServer;
let browser: Browser;
let admin: BrowserContext;
let page: Page;

const row = (p: Page, email: string) => p.getByTestId(`user-${email}`);
const me = async (cookie: string) => (await fetch(`${server.url}/api/trpc/auth.me`, { headers: { cookie } })).status;

/** A signed-in context for `who`, and its cookie. */
async function session(who: { email: string; password: string }, at = '/'): Promise<{ ctx: BrowserContext; page: Page; cookie: string }> {
  const ctx = await newContext(browser, server.url);
  const p = await ctx.newPage();
  await signInAt(p, at, who);
  return { ctx, page: p, cookie: await cookieHeader(ctx) };
}

describe('admin pages (Chromium)', () => {
  beforeAll(async () => {
    server = await startConsole();
    browser = await launchChromium();
    admin = await newContext(browser, server.url);
    page = await admin.newPage();
    await signInAt(page, '/users', server.admin, server.log);
    for (const [u, role] of [
      [OPERATOR, 'operator'],
      [VIEWER, 'viewer'],
      [LEAVER, 'viewer'],
      [LOCKED, 'viewer'],
    ] as const) {
      expect(await callMutation(page, 'users.create', { ...u, role })).toMatchObject({ status: 200 });
    }
  }, 600_000);

  afterAll(async () => {
    if (server) await writeFile(path.join(SHOTS, '..', 'e2e-admin-pages-server.log'), server.log());
    await browser?.close();
    await server?.stop();
  }, 60_000);

  it('a role change waits for confirmation: Cancel keeps the role, confirming applies it', async () => {
    await page.goto('/users');
    const role = row(page, VIEWER.email).getByLabel(`Role of ${VIEWER.email}`);
    await role.selectOption('operator');
    const dialog = page.getByRole('dialog', { name: `Make ${VIEWER.email} an operator?` });
    await dialog.waitFor();
    await shot(page, 'users-confirm-role');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'detached' });
    expect(await role.inputValue()).toBe('viewer');
    await role.selectOption('operator');
    await confirmDialog(page, 'Make operator');
    await expect.poll(() => role.inputValue(), { timeout: 15_000 }).toBe('operator');
    // Back to viewer for the checks below.
    await role.selectOption('viewer');
    await confirmDialog(page, 'Make viewer');
    await expect.poll(() => role.inputValue(), { timeout: 15_000 }).toBe('viewer');
    // Your own role and account are not offered for change.
    const mine = row(page, server.admin.email);
    expect(await mine.getByLabel(`Role of ${server.admin.email}`).isDisabled()).toBe(true);
    expect(await mine.getByRole('button', { name: 'Delete' }).count()).toBe(0);
    expect(await mine.getByRole('button', { name: 'Disable' }).count()).toBe(0);
    // The server refuses it anyway.
    const users = await page.evaluate(async () => ((await (await fetch('/api/trpc/users.list')).json()) as { result: { data: { id: string; email: string }[] } }).result.data);
    const self = users.find((u) => u.email === 'admin@e2e.test')!;
    expect(await callMutation(page, 'users.delete', { userId: self.id })).toEqual({ status: 409, code: 'CONFLICT' });
  }, 120_000);

  it('Disable is confirmed and ends the user’s sessions at once', async () => {
    const v = await session(VIEWER);
    expect(await me(v.cookie)).toBe(200);
    await page.goto('/users');
    await row(page, VIEWER.email).getByRole('button', { name: 'Disable' }).click();
    await page.getByRole('dialog', { name: `Disable ${VIEWER.email}?` }).waitFor();
    await shot(page, 'users-confirm-disable');
    await confirmDialog(page, 'Disable');
    await row(page, VIEWER.email).getByText('disabled', { exact: true }).waitFor();
    expect(await me(v.cookie)).toBe(401);
    await row(page, VIEWER.email).getByRole('button', { name: 'Enable' }).click();
    await confirmDialog(page, 'Enable');
    await row(page, VIEWER.email).getByText('active', { exact: true }).waitFor();
    await v.ctx.close();
  }, 120_000);

  it('an admin unlocks a locked account and resets a password', async () => {
    const other = await newContext(browser, server.url);
    const attacker = await other.newPage();
    await attacker.goto('/login');
    // Each attempt waits for the server's answer: a submit while the last one is pending is not an attempt.
    const answered = () => attacker.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/login', { timeout: 60_000 });
    for (let i = 0; i < 5; i++) {
      await Promise.all([answered(), signIn(attacker, LOCKED.email, `wrong-password-${i}`)]);
      await attacker.getByRole('alert').filter({ hasText: 'Wrong email or password' }).waitFor({ timeout: 30_000 });
    }
    await signIn(attacker, LOCKED.email, LOCKED.password);
    await attacker.getByRole('alert').filter({ hasText: 'Too many failed sign-ins' }).waitFor({ timeout: 30_000 });
    await page.goto('/users');
    await row(page, LOCKED.email).getByText(/locked until .* UTC/).waitFor({ timeout: 15_000 });
    await shot(page, 'users-locked');
    await row(page, LOCKED.email).getByRole('button', { name: 'Unlock' }).click();
    await confirmDialog(page, 'Unlock');
    await row(page, LOCKED.email).getByText('active', { exact: true }).waitFor();
    await other.close();

    await row(page, LOCKED.email).getByRole('button', { name: 'Reset password' }).click();
    const panel = page.getByRole('alertdialog', { name: `Reset the password of ${LOCKED.email}` });
    await panel.getByLabel('New password').fill('another-locked-password');
    await panel.getByRole('button', { name: 'Yes, set the password' }).click();
    await page.getByText(`Set a new password for ${LOCKED.email}; their sessions have ended.`).waitFor();
    const s = await session({ email: LOCKED.email, password: 'another-locked-password' });
    await s.ctx.close();
  }, 180_000);

  it('Delete is confirmed (Escape cancels), removes the user and ends its sessions', async () => {
    const l = await session(LEAVER);
    expect(await me(l.cookie)).toBe(200);
    await page.goto('/users');
    const del = row(page, LEAVER.email).getByRole('button', { name: 'Delete' });
    await del.click();
    const dialog = page.getByRole('dialog', { name: `Delete ${LEAVER.email}?` });
    await dialog.waitFor();
    // Focus starts on Cancel, so Enter never deletes by accident; Escape closes.
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Cancel');
    await shot(page, 'users-confirm-delete');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    expect(await row(page, LEAVER.email).count()).toBe(1);
    await del.click();
    await confirmDialog(page, 'Delete user');
    await page.getByText(`Deleted ${LEAVER.email}; their sessions have ended.`).waitFor();
    await row(page, LEAVER.email).waitFor({ state: 'detached' });
    expect(await me(l.cookie)).toBe(401);
    await shot(page, 'users');
    await l.ctx.close();
  }, 120_000);

  it('an operator who opens /keys by URL is told it is not available to their role', async () => {
    const o = await session(OPERATOR, '/keys');
    await o.page.getByText('Not available to your role').waitFor();
    await o.page.getByText('Your role (operator) cannot open this page').waitFor();
    expect(await o.page.getByRole('button', { name: /escrow/i }).count()).toBe(0);
    await shot(o.page, 'keys-operator');
    // Nor can it export the audit log: the server refuses.
    const res = await fetch(`${server.url}/api/audit/export`, { headers: { cookie: o.cookie } });
    expect(res.status).toBe(403);
    expect(await res.text()).toMatch(/Your role \(operator\) may not read the audit log/);
    await o.ctx.close();
    const v = await session(VIEWER);
    expect((await fetch(`${server.url}/api/audit/export`, { headers: { cookie: v.cookie } })).status).toBe(403);
    await v.ctx.close();
    expect((await fetch(`${server.url}/api/audit/export`)).status).toBe(401);
  }, 120_000);

  it('alert settings: errors use the form’s labels, a test with no channel is a warning, the source is said truly', async () => {
    await page.goto('/alerts');
    await page.getByTestId('alert-settings-source').getByText(/^Built-in defaults/).waitFor();
    await page.getByRole('button', { name: 'Send test alert' }).click();
    await page.getByTestId('alert-test-result').getByText(/no channel is enabled/).waitFor();
    expect(await page.getByTestId('alert-test-result').evaluate((el) => el.parentElement?.className ?? '')).toMatch(/amber/);
    await page.getByRole('button', { name: 'Edit alert settings' }).click();
    const form = page.getByRole('form', { name: 'Alert settings' });
    await form.getByLabel('Storage usage warning (%)').fill('95');
    await form.getByLabel('Storage usage critical (%)').fill('90');
    await form.getByRole('button', { name: 'Save alert settings' }).click();
    const error = page.getByRole('alert').filter({ hasText: 'The alert settings were not saved' });
    await error.waitFor();
    expect(await error.textContent()).toContain('“Storage usage warning (%)” must not exceed “Storage usage critical (%)”');
    expect(await error.textContent()).not.toMatch(/storage_usage|alerts\.thresholds/);
    await shot(page, 'alerts-settings-error');
    await form.getByRole('button', { name: 'Cancel' }).click();
    await shot(page, 'alerts');
  }, 120_000);

  it('the audit log shows details as a list and exports the filtered log as CSV', async () => {
    await page.goto('/audit');
    const table = page.getByTestId('audit-table');
    await table.getByText('user.delete').first().waitFor();
    // Details read as "key: value", not JSON.
    await table.getByText('sessions_revoked:').first().waitFor();
    expect(await table.textContent()).not.toContain('{"');
    await shot(page, 'audit');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^audit-log-.*\.csv$/);
    const all = await readFile((await download.path())!, 'utf8');
    const lines = all.trimEnd().split('\r\n');
    expect(lines[0]).toBe('"time_utc","actor","action","outcome","target","details"');
    expect(lines.length).toBeGreaterThan(10);
    expect(all).toContain(`"admin@e2e.test","user.delete","success","${LEAVER.email}"`);
    expect(all).toContain('"auth.signin","failure"');

    // With a filter, the export has only what the page shows.
    await page.getByLabel('Action starts with').fill('user.');
    await table.getByText('user.create').first().waitFor();
    const [filtered] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'Export CSV' }).click()]);
    const rows = (await readFile((await filtered.path())!, 'utf8')).trimEnd().split('\r\n').slice(1);
    expect(rows.length).toBeGreaterThanOrEqual(8);
    for (const r of rows) expect(r.split('","')[2]).toMatch(/^user\./);
  }, 120_000);

  it('a missing page is a branded 404, and the favicon is served to anyone', async () => {
    const res = await page.goto('/no-such-page');
    expect(res?.status()).toBe(404);
    await page.getByRole('heading', { name: 'This page does not exist' }).waitFor();
    await page.getByRole('link', { name: 'Go to the dashboard' }).waitFor();
    await shot(page, 'not-found');
    const icon = await fetch(`${server.url}/icon.svg`);
    expect(icon.status).toBe(200);
    expect(icon.headers.get('content-type')).toMatch(/image\/svg\+xml/);
    expect(await page.locator('link[rel="icon"]').count()).toBeGreaterThan(0);
  });
});
