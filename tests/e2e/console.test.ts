/**
 * End to end, in Chromium, against the real console (next build + next start via `npm start`'s script):
 * sign in, back up a directory and watch it complete, verify, restore byte for byte, dashboard charts,
 * users and audit pages, metrics and health, and a viewer who sees no create/delete control and whose
 * forged delete call is refused. Screenshots go to tests/artifacts/screenshots/.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { treeDiff } from '../support/compare';
import { makeTree, Rng } from '../support/tree';
import { callMutation, clickHydrated, launchChromium, newContext as contextOn, SHOTS, shot, signIn } from './browser';
import { type ConsoleServer, startConsole } from './console-server';

const VIEWER = { email: 'viewer@e2e.test', password: 'viewer-password-123' };

let server: ConsoleServer;
let browser: Browser;
let admin: BrowserContext;
let page: Page;
let src: string;
let backupId = '';
const trpcBodies: string[] = [];

const newContext = (): Promise<BrowserContext> => contextOn(browser, server.url, trpcBodies);

describe('console end to end (Chromium)', () => {
  beforeAll(async () => {
    server = await startConsole();
    src = path.join(server.dir, 'source');
    await makeTree(src, { seed: 11, smallFiles: 300, smallMin: 0, smallMax: 20_000, bigFiles: [24 * 1024 * 1024, 3 * 1024 * 1024 + 17], unicode: true, empties: true });
    await writeFile(path.join(src, 'chat.json'), new Rng(5).bytes(1).toString('hex').repeat(200_000));
    browser = await launchChromium();
    admin = await newContext();
    page = await admin.newPage();
  }, 300_000);

  afterAll(async () => {
    if (server) await writeFile(path.join(SHOTS, '..', 'e2e-server.log'), server.log());
    await browser?.close();
    await server?.stop();
  }, 60_000);

  it('sends a signed-out visitor to /login and back to the page they asked for', async () => {
    await page.goto('/storage');
    await page.waitForURL(/\/login\?callbackUrl=%2Fstorage/);
    await signIn(page, server.admin.email, 'not-the-password');
    await page.getByRole('alert').filter({ hasText: 'Wrong email or password' }).waitFor({ timeout: 15_000 });
    await signIn(page, server.admin.email, server.admin.password);
    await page.waitForURL(`${server.url}/storage`);
    await page.getByText('reachable').first().waitFor();
    await shot(page, 'storage');
  });

  it('creates a backup from the UI and shows live progress until it completes', async () => {
    await page.goto('/backups/new');
    await clickHydrated(page.getByRole('tab', { name: 'Directory on the server' }));
    await page.getByLabel('Source path').fill(src);
    await page.getByLabel('Tags').fill('e2e, first');
    await page.getByRole('button', { name: 'Start backup' }).click();
    const progress = page.getByTestId('progress');
    await progress.waitFor({ timeout: 30_000 });
    await shot(page, 'progress');
    await page.locator('[data-testid="progress"][data-status="completed"]').waitFor({ timeout: 120_000 });
    await progress.getByText('100.0%').waitFor();
    await shot(page, 'progress-completed');
    await page.getByRole('link', { name: 'Open backup details' }).click();
    await page.waitForURL(/\/backups\/backup_/);
    backupId = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    await page.getByText('all replicas ok').waitFor();
    expect(await page.locator('tr[data-bad]').count()).toBe(0);
    await shot(page, 'backup-detail');
  });

  it('verifies the backup', async () => {
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByTestId('verify-result').filter({ hasText: 'healthy' }).waitFor({ timeout: 120_000 });
  });

  it('restores it into a directory on the server, byte for byte, with live progress', async () => {
    const target = path.join(server.dir, 'restored');
    await page.getByLabel('Target directory').fill(target);
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await page.getByTestId('restore-result').waitFor({ timeout: 120_000 });
    // The restore ran as a background job whose progress the page followed to the end.
    await page.locator('[data-testid="restore-progress"][data-status="completed"]').getByText('100.0%').waitFor();
    expect(await treeDiff(src, target)).toEqual([]);
  });

  it('lists the files inside the backup and downloads one, byte for byte', async () => {
    await page.goto(`/backups/${encodeURIComponent(backupId)}`);
    await page.getByLabel('Search files').fill('chat.json');
    const row = page.getByTestId('backup-files').locator('tr', { hasText: 'chat.json' });
    await expect.poll(() => page.getByTestId('backup-files').locator('tbody tr').count(), { timeout: 10_000 }).toBe(1);
    await row.waitFor();
    const [download] = await Promise.all([page.waitForEvent('download'), row.getByRole('link', { name: 'Download' }).click()]);
    expect(download.suggestedFilename()).toBe('chat.json');
    expect((await readFile((await download.path())!)).equals(await readFile(path.join(src, 'chat.json')))).toBe(true);
    await shot(page, 'backup-files');
  });

  it('renders the dashboard charts with data', async () => {
    await page.goto('/');
    await page.locator('[data-chart="throughput"] .recharts-line-dot').first().waitFor({ timeout: 30_000 });
    expect(await page.locator('[data-chart="per-day"] .recharts-bar-rectangle').count()).toBeGreaterThan(0);
    await page.getByText('Data protected').waitFor();
    await shot(page, 'dashboard');
    await page.setViewportSize({ width: 390, height: 844 });
    await page.locator('[data-chart="per-day"] .recharts-bar-rectangle').first().waitFor();
    await shot(page, 'dashboard-phone');
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto('/backups');
    await page.getByRole('link', { name: backupId }).waitFor();
    await shot(page, 'backups-list');
  });

  it('lets the admin add a viewer, and records everything in the audit log', async () => {
    await page.goto('/users');
    await page.getByLabel('New user email').fill(VIEWER.email);
    await page.getByLabel('Initial password').fill(VIEWER.password);
    await page.getByLabel('Role', { exact: true }).selectOption('viewer');
    await page.getByRole('button', { name: 'Add user' }).click();
    await page.getByRole('cell', { name: VIEWER.email }).waitFor();
    await shot(page, 'users');
    await page.goto('/audit');
    for (const action of ['auth.signin', 'backup.create', 'backup.verify', 'backup.restore', 'user.create']) {
      await page.getByRole('cell', { name: action, exact: true }).first().waitFor();
    }
    await shot(page, 'audit');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/login/);
    await page.goto('/backups');
    await page.waitForURL(/\/login\?callbackUrl=%2Fbackups$/);
  });

  it('serves health without sign-in and metrics only with the bearer token', async () => {
    // Signed out, only the status; the details are for signed-in users (tests/security/requests.test.ts).
    const health = (await (await fetch(`${server.url}/api/health`)).json()) as { status: string };
    expect(health).toEqual({ status: 'ok' });
    expect((await fetch(`${server.url}/api/metrics`)).status).toBe(401);
    expect((await fetch(`${server.url}/api/metrics`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    const res = await fetch(`${server.url}/api/metrics`, { headers: { authorization: `Bearer ${server.metricsToken}` } });
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).toContain('plexichat_backups{status="completed"} 1');
    expect(text).toMatch(/plexichat_storage_used_bytes\{location="local-a",type="local"\} [1-9]/);
    expect(text).toContain('plexichat_backup_duration_seconds_count 1');
  });

  it('shows a viewer no create or delete control after a deep link, and refuses a forged delete', async () => {
    const ctx = await newContext();
    const viewer = await ctx.newPage();
    await viewer.goto(`/backups/${encodeURIComponent(backupId)}`);
    await viewer.waitForURL(/\/login\?callbackUrl=/);
    await signIn(viewer, VIEWER.email, VIEWER.password);
    await viewer.waitForURL(`${server.url}/backups/${encodeURIComponent(backupId)}`);
    await viewer.getByText('Shard map').waitFor();
    expect(await viewer.getByRole('button', { name: 'Delete' }).count()).toBe(0);
    expect(await viewer.getByRole('button', { name: 'Restore', exact: true }).count()).toBe(0);
    expect(await viewer.getByRole('link', { name: 'New backup' }).count()).toBe(0);
    await viewer.goto('/backups');
    await viewer.getByRole('link', { name: backupId }).waitFor();
    expect(await viewer.getByRole('link', { name: /New backup|Create your first backup/ }).count()).toBe(0);
    expect(await viewer.getByRole('link', { name: 'Users' }).count()).toBe(0);
    expect(await callMutation(viewer, 'backup.delete', { backupId })).toEqual({ status: 403, code: 'FORBIDDEN' });
    // Viewers see what a backup holds, but a download is a restore.
    await viewer.goto(`/backups/${encodeURIComponent(backupId)}`);
    await viewer.getByTestId('backup-files').waitFor();
    expect(await viewer.getByRole('link', { name: 'Download' }).count()).toBe(0);
    const status = await viewer.evaluate(async (id) => (await fetch(`/api/backups/${encodeURIComponent(id)}/file?path=chat.json`)).status, backupId);
    expect(status).toBe(403);
    await viewer.goto(`/backups/${encodeURIComponent(backupId)}`);
    await viewer.getByText('Shard map').waitFor();
    await ctx.close();
  });

  it('leaks no secret into tRPC responses or the server log', () => {
    const all = trpcBodies.join('\n');
    expect(trpcBodies.length).toBeGreaterThan(10);
    for (const bad of ['passwordHash', 'password_hash', '$argon2', VIEWER.password, ...server.secrets]) {
      expect(all).not.toContain(bad);
      expect(server.log()).not.toContain(bad);
    }
  });
});
