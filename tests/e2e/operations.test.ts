/**
 * The operations pages end to end, in Chromium against the real console: schedules (cron preview, a
 * refused cron naming its field, run now through the console's own worker, pause), alert settings edited by
 * an admin (real SMTP and webhook receivers, a test alert, secrets never sent back), an alert raised by a
 * scheduled run whose Slack button opens its page, acknowledged there; and a viewer who sees the pages but
 * no control, with forged calls refused.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EscrowPackage, openEscrow } from '../../server/engine/keys/escrow';
import { keyFingerprint } from '../../server/engine/keys/keys';
import { hookReceiver, smtpReceiver } from '../support/receivers';
import { makeTree } from '../support/tree';
import { callMutation, clickHydrated, confirmDialog, launchChromium, newContext, SHOTS, shot, signInAt } from './browser';
import { type ConsoleServer, startConsole } from './console-server';

const VIEWER = { email: 'viewer-ops@e2e.test', password: 'viewer-ops-password-1' };
const SMTP_PASSWORD = 'smtp-password-e2e-7f3a';

let server: ConsoleServer;
let browser: Browser;
let admin: BrowserContext;
let page: Page;
let mail: Awaited<ReturnType<typeof smtpReceiver>>;
let slack: Awaited<ReturnType<typeof hookReceiver>>;
let src: string;
const trpcBodies: string[] = [];

/** The table row of a schedule. */
const row = (p: Page, name: string) => p.getByTestId('schedule-table').locator('tr', { has: p.getByText(name, { exact: true }) });

async function createSchedule(p: Page, name: string, dir: string): Promise<void> {
  await p.goto('/schedules');
  await clickHydrated(p.getByRole('button', { name: 'New schedule' }));
  await p.getByLabel('Name', { exact: true }).fill(name);
  await p.getByLabel('Paths').fill(dir);
  await p.getByLabel('Cron').fill('30 2 * * *');
  await p.getByTestId('cron-preview').waitFor();
  await p.getByRole('button', { name: 'Create schedule' }).click();
  await row(p, name).waitFor();
}

describe('operations pages end to end (Chromium)', () => {
  beforeAll(async () => {
    mail = await smtpReceiver();
    slack = await hookReceiver();
    server = await startConsole();
    src = path.join(server.dir, 'ops-source');
    await makeTree(src, { seed: 23, smallFiles: 120, bigFiles: [2 * 1024 * 1024] });
    browser = await launchChromium();
    admin = await newContext(browser, server.url, trpcBodies);
    page = await admin.newPage();
    await signInAt(page, '/schedules', server.admin);
  }, 300_000);

  afterAll(async () => {
    if (server) await writeFile(path.join(SHOTS, '..', 'e2e-operations-server.log'), server.log());
    await browser?.close();
    await server?.stop();
    await mail?.close();
    await slack?.close();
  }, 60_000);

  it('previews the next five runs of a cron, names the bad field of a wrong one, and creates the schedule', async () => {
    await page.getByRole('button', { name: 'New schedule' }).click();
    await page.getByLabel('Name', { exact: true }).fill('nightly-docs');
    await page.getByLabel('Paths').fill(src);
    await page.getByLabel('Cron').fill('61 * * * *');
    await expect.poll(() => page.getByTestId('cron-error').textContent().catch(() => ''), { timeout: 15_000 }).toMatch(/minute/i);
    await page.getByLabel('Cron').fill('30 2 * * 1-5');
    await page.getByTestId('cron-preview').waitFor();
    expect(await page.getByTestId('cron-preview').locator('li').count()).toBe(5);
    await page.getByLabel('Tags').fill('docs');
    await shot(page, 'schedule-form');
    await page.getByRole('button', { name: 'Create schedule' }).click();
    await row(page, 'nightly-docs').getByText('30 2 * * 1-5').waitFor();
    expect(await row(page, 'nightly-docs').getByText('never').count()).toBe(1);
  });

  it('runs a schedule now through the console worker and shows the completed run, linked to its backup', async () => {
    await row(page, 'nightly-docs').getByRole('button', { name: 'Run now' }).click();
    await page.getByText('Run of nightly-docs queued').waitFor();
    await row(page, 'nightly-docs').getByText('completed', { exact: true }).first().waitFor({ timeout: 120_000 });
    await shot(page, 'schedules');
    await row(page, 'nightly-docs').getByRole('link').click();
    await page.waitForURL(/\/backups\/backup_/);
    await page.getByText('nightly-docs').first().waitFor();
    await page.getByText('all replicas ok').waitFor();
  });

  it('pauses and resumes a schedule', async () => {
    await page.goto('/schedules');
    await row(page, 'nightly-docs').getByRole('button', { name: 'Pause' }).click();
    await row(page, 'nightly-docs').getByText('paused', { exact: true }).waitFor();
    await row(page, 'nightly-docs').getByRole('button', { name: 'Resume' }).click();
    await row(page, 'nightly-docs').getByRole('button', { name: 'Pause' }).waitFor();
    expect(await row(page, 'nightly-docs').getByText('paused', { exact: true }).count()).toBe(0);
  });

  it('runs a continuous schedule: the console worker watches the paths and backs up after changes', async () => {
    await page.getByRole('button', { name: 'New schedule' }).click();
    await page.getByLabel('Name', { exact: true }).fill('live-docs');
    await page.getByLabel('Paths').fill(src);
    await page.getByLabel('Type').selectOption('continuous');
    await page.getByLabel('Delay after changes (s)').fill('2');
    await page.getByRole('button', { name: 'Create schedule' }).click();
    const live = row(page, 'live-docs');
    await live.getByText(/2 s after changes · watched by /).waitFor({ timeout: 30_000 });
    // The watcher's first run catches up; then a change gives one more backup.
    await live.getByText('completed', { exact: true }).first().waitFor({ timeout: 60_000 });
    const first = await live.getByRole('link').getAttribute('href');
    await writeFile(path.join(src, 'edited-while-watched.txt'), 'a change the watcher sees');
    await expect.poll(() => live.getByRole('link').getAttribute('href'), { timeout: 60_000, interval: 1_000 }).not.toBe(first);
    await shot(page, 'schedules-continuous');
    await live.getByRole('button', { name: 'Pause' }).click();
    await live.getByText('not watched while paused').waitFor({ timeout: 30_000 });
  });

  it('lets the admin set up email and Slack, refuses inconsistent thresholds, and sends a test alert', async () => {
    await page.goto('/alerts');
    await page.getByTestId('alert-settings-source').getByText('configuration file').waitFor();
    await page.getByRole('button', { name: 'Edit alert settings' }).click();
    const form = page.getByRole('form', { name: 'Alert settings' });
    await form.getByLabel('Email (SMTP)').check();
    await form.getByLabel('SMTP server').fill('127.0.0.1');
    await form.getByLabel('SMTP port').fill(String(mail.port));
    await form.getByLabel('SMTP password').fill(SMTP_PASSWORD);
    await form.getByLabel('From address').fill('backup@e2e.test');
    await form.getByLabel('Recipients').fill('ops@e2e.test, oncall@e2e.test');
    await form.getByLabel('Slack', { exact: true }).check();
    await form.getByLabel('Slack webhook URL').fill(slack.url);
    await form.getByLabel('Slack channel').fill('#backup-alerts');
    await form.getByLabel('Storage usage warning (%)').fill('95');
    await form.getByLabel('Storage usage critical (%)').fill('90');
    await form.getByRole('button', { name: 'Save alert settings' }).click();
    await page.getByRole('alert').filter({ hasText: '“Storage usage warning (%)” must not exceed “Storage usage critical (%)”' }).waitFor();
    await form.getByLabel('Storage usage warning (%)').fill('70');
    await shot(page, 'alert-settings-form');
    await form.getByRole('button', { name: 'Save alert settings' }).click();
    await page.getByTestId('alert-settings-source').getByText('Saved in the console by admin@e2e.test').waitFor();
    await page.getByText('warning 70% · critical 90%').waitFor();
    await page.getByText(`${new URL(slack.url).origin}/… #backup-alerts`).waitFor();

    await page.getByRole('button', { name: 'Send test alert' }).click();
    await page.getByText('email: sent · slack: sent').waitFor({ timeout: 30_000 });
    expect(mail.mails.map((m) => m.to)).toEqual(['ops@e2e.test,oncall@e2e.test']);
    expect(slack.posts).toHaveLength(1);
    await shot(page, 'alerts-settings');

    // Edited again without touching the secrets: they are kept.
    await page.getByRole('button', { name: 'Edit alert settings' }).click();
    await expect.poll(() => form.getByLabel('Slack webhook URL').inputValue()).toBe('');
    await form.getByLabel('Recovery time warning (s)').fill('1200');
    await form.getByRole('button', { name: 'Save alert settings' }).click();
    await page.getByText('warning 1200 s · critical 3600 s').waitFor();
    await page.getByRole('button', { name: 'Send test alert' }).click();
    await expect.poll(() => slack.posts.length, { timeout: 30_000 }).toBe(2);
  });

  it('raises one alert for a scheduled run that cannot start; its Slack button opens the alert, acknowledged there', async () => {
    const gone = path.join(server.dir, 'will-vanish');
    await mkdir(gone, { recursive: true });
    await createSchedule(page, 'vanishing', gone);
    await rm(gone, { recursive: true });
    const before = slack.posts.length;
    await row(page, 'vanishing').getByRole('button', { name: 'Run now' }).click();
    await row(page, 'vanishing').getByText('failed', { exact: true }).first().waitFor({ timeout: 120_000 });
    await expect.poll(() => slack.posts.length, { timeout: 30_000 }).toBe(before + 1);
    const post = JSON.stringify(slack.posts.at(-1));
    const link = /"url":"([^"]+\/alerts\/[^"]+)"/.exec(post)?.[1];
    expect(link).toMatch(new RegExp(`^${server.url}/alerts/`));

    await page.goto(link!);
    await page.getByRole('heading', { name: /Scheduled backup "vanishing" could not start/ }).waitFor();
    await page.getByText('open', { exact: true }).first().waitFor();
    await page.getByRole('button', { name: 'Acknowledge' }).click();
    await page.getByText('acknowledged', { exact: true }).first().waitFor();
    await page.getByText(/by admin@e2e\.test/).waitFor();
    await shot(page, 'alert-detail');

    await page.goto('/alerts');
    await page.getByLabel('Severity').selectOption('critical');
    await page.getByTestId('alert-list').getByText(/Scheduled backup "vanishing" could not start/).waitFor();
    await page.getByLabel('Severity').selectOption('warning');
    await page.getByText('Nothing matches these filters.').waitFor();
  });

  it('opens the health report from the dashboard, with the period\'s alerts, and downloads it as JSON', async () => {
    await page.goto('/');
    await page.getByRole('link', { name: 'Health report' }).click();
    await page.waitForURL(`${server.url}/reports`);
    await page.getByTestId('report-alerts').getByText(/Scheduled backup "vanishing" could not start/).waitFor();
    await page.getByTestId('report-storage').getByText('reachable').first().waitFor();
    await shot(page, 'health-report');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download JSON' }).click()]);
    const report = JSON.parse(await readFile((await download.path())!, 'utf8')) as { alerts: { total: number }; statistics: { total_backups: number }; maintenance: { error: string | null } | null };
    expect(report.alerts.total).toBeGreaterThanOrEqual(1);
    expect(report.statistics.total_backups).toBeGreaterThanOrEqual(2);
    // The console's worker ran the daily maintenance when it started.
    expect(report.maintenance).toMatchObject({ error: null });
  });

  it('shows the admin the master key state and exports a key escrow package sealed to a public key', async () => {
    await page.goto('/keys');
    await page.getByText(/^mk-[0-9a-f]{16}$/).waitFor();
    await page.getByText('within policy').waitFor();
    const weak = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    await page.getByLabel("Escrow holder's public key").fill(weak.publicKey);
    await page.getByRole('button', { name: 'Export escrow package' }).click();
    await page.getByRole('alert').filter({ hasText: 'at least 3072 bits' }).waitFor();
    const pair = generateKeyPairSync('rsa', { modulusLength: 3072, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } });
    await page.getByLabel("Escrow holder's public key").fill(pair.publicKey);
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Export escrow package' }).click()]);
    await page.getByTestId('escrow-result').waitFor();
    await shot(page, 'keys');
    const pkg = JSON.parse(await readFile((await download.path())!, 'utf8')) as EscrowPackage;
    expect(pkg).toMatchObject({ format: 'plexichat-key-escrow', algorithm: 'RSA-OAEP-SHA256/AES-256-GCM' });
    // Only the private key opens it, and what it holds is this installation's master key.
    const [master] = openEscrow(pkg, pair.privateKey);
    expect(keyFingerprint(master!)).toBe(pkg.master_keys[0]);
    expect(await page.getByText(pkg.master_keys[0]!).count()).toBeGreaterThan(0);
  });

  it('previews and runs storage maintenance (optimize, orphan sweep) from the storage page', async () => {
    await page.goto('/storage');
    await clickHydrated(page.getByRole('button', { name: 'Preview optimize' }));
    await page.getByTestId('optimize-result').getByText(/^Preview: would add 0 and remove 0 replica\(s\) over 0 shard\(s\) of \d+ checked\.$/).waitFor();
    await page.getByRole('button', { name: 'Preview sweep' }).click();
    await page.getByTestId('gc-result').getByText(/^Preview: would mark 0 object/).waitFor();
    await page.getByRole('button', { name: 'Sweep now' }).click();
    await confirmDialog(page, 'Sweep now');
    await page.getByTestId('gc-result').getByText(/^Marked 0 object/).waitFor();
    await shot(page, 'storage-maintenance');
  });

  it('shows a viewer schedules and alerts without any control, and refuses forged calls', async () => {
    expect(await callMutation(page, 'users.create', { email: VIEWER.email, password: VIEWER.password, role: 'viewer' })).toMatchObject({ status: 200 });
    const ctx = await newContext(browser, server.url, trpcBodies);
    const viewer = await ctx.newPage();
    await signInAt(viewer, '/schedules', VIEWER);
    await row(viewer, 'nightly-docs').waitFor();
    for (const name of ['New schedule', 'Run now', 'Pause', 'Edit', 'Remove']) expect(await viewer.getByRole('button', { name, exact: true }).count()).toBe(0);
    await viewer.goto('/alerts');
    await viewer.getByRole('heading', { name: 'Alerts' }).waitFor();
    await viewer.getByLabel('State').selectOption('all');
    await viewer.getByTestId('alert-list').waitFor();
    for (const name of ['Acknowledge', 'Edit alert settings', 'Send test alert']) expect(await viewer.getByRole('button', { name }).count()).toBe(0);
    expect(await callMutation(viewer, 'alerts.updateSettings', { webhook: { enabled: true, url: 'https://attacker.example/hook' } })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await callMutation(viewer, 'schedules.runNow', { name: 'nightly-docs' })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await viewer.getByRole('link', { name: 'Keys' }).count()).toBe(0);
    await viewer.goto('/storage');
    await viewer.getByRole('heading', { name: 'Storage' }).waitFor();
    expect(await viewer.getByRole('button', { name: /Optimize now|Sweep now/ }).count()).toBe(0);
    expect(await callMutation(viewer, 'storage.gc', { dryRun: false })).toEqual({ status: 403, code: 'FORBIDDEN' });
    expect(await callMutation(viewer, 'keys.escrow', { publicKeyPem: generateKeyPairSync('rsa', { modulusLength: 3072, publicKeyEncoding: { type: 'spki', format: 'pem' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } }).publicKey })).toEqual({ status: 403, code: 'FORBIDDEN' });
    await ctx.close();
  });

  it('never sends a channel secret back to a browser or into the server log', () => {
    const all = trpcBodies.join('\n');
    expect(all).toContain('"source":"console"'); // the settings responses were seen, masked
    for (const bad of [SMTP_PASSWORD, new URL(slack.url).pathname, VIEWER.password, ...server.secrets]) {
      expect(all).not.toContain(bad);
      expect(server.log()).not.toContain(bad);
    }
  });
});
