/**
 * End to end, in Chromium, the pages an admin lives in, as a new admin first sees them: an empty dashboard
 * (nothing to compute shows "—"), a schedule previewed in its own time zone with the zone's abbreviation and
 * the viewer's time beside it, a schedule of a path that does not exist refused, a backup whose title follows
 * its status, and the storage page with each location's directory, the backups it holds and proper plurals.
 * The browser runs in America/New_York, the schedule in Europe/Berlin, so the two times differ.
 * Screenshots: tests/artifacts/screenshots/pages-*.png.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clickHydrated, launchChromium, SHOTS, shot, signInAt } from './browser';
import { type ConsoleServer, startConsole } from './console-server';

let server: ConsoleServer;
let browser: Browser;
let page: Page;
let src: string;

/** The value of a dashboard stat card, found by its label. */
const stat = (label: string) => page.locator('div.rounded-lg', { has: page.getByText(label, { exact: true }) }).locator('div.text-2xl');

describe('console pages (Chromium)', () => {
  beforeAll(async () => {
    // Samples every 5 s, so the storage chart has data within the test.
    process.env.PLEXICHAT_HEALTH_CHECK_INTERVAL = '5';
    try {
      server = await startConsole();
    } finally {
      delete process.env.PLEXICHAT_HEALTH_CHECK_INTERVAL;
    }
    src = path.join(server.dir, 'source');
    await mkdir(path.join(src, 'docs'), { recursive: true });
    for (let i = 0; i < 20; i++) await writeFile(path.join(src, 'docs', `note-${i}.txt`), `note ${i}\n`.repeat(2000 + i));
    browser = await launchChromium();
    const ctx = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 }, timezoneId: 'America/New_York', locale: 'en-US' });
    page = await ctx.newPage();
    await signInAt(page, '/', server.admin, server.log);
  }, 300_000);

  afterAll(async () => {
    if (server) await writeFile(path.join(SHOTS, '..', 'e2e-pages-server.log'), server.log());
    await browser?.close();
    await server?.stop();
  }, 60_000);

  it('an empty installation shows "—" for the success rate and dedup, not 100 %', async () => {
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByText('No backups yet').waitFor();
    expect(await stat('Success rate').textContent()).toBe('—');
    expect(await stat('Compression · dedup').textContent()).toBe('—');
    await expect(page.getByText('100.0%').count()).resolves.toBe(0);
    await expect(page.getByText('of data already stored').count()).resolves.toBe(0);
    await shot(page, 'pages-dashboard-empty');
  });

  it('previews a schedule in its own zone (01:30 CET) with the viewer time beside it', async () => {
    await page.goto('/schedules');
    await clickHydrated(page.getByRole('button', { name: 'New schedule' }));
    await page.getByLabel('Name', { exact: true }).fill('weekday-berlin');
    await page.getByLabel('Cron').fill('30 1 * * 1-5');
    await page.getByLabel('Time zone').fill('Europe/Berlin');
    const preview = page.getByTestId('cron-preview');
    await preview.getByText(/Europe\/Berlin/).waitFor();
    const first = preview.getByTestId('run-time').first();
    await first.getByText(/ 01:30 CES?T$/).waitFor();
    // New York is 6 hours behind Berlin: 19:30 the evening before, EST (or EDT in summer).
    expect(await first.textContent()).toMatch(/\d{4}-\d\d-\d\d 01:30 CES?T\(\d{4}-\d\d-\d\d 19:30 ED?ST your time\)/);
  });

  it('refuses a schedule of a path that does not exist, with New backup\'s message; paths are one per line', async () => {
    const missing = path.join(server.dir, 'no-such-dir');
    await page.getByLabel('Paths').fill(`${src}\n${missing}`);
    await page.getByRole('button', { name: 'Create schedule' }).click();
    await page.getByText(`Cannot read source ${missing}: it does not exist. Check the path.`).waitFor();
    await shot(page, 'pages-schedule-refused');
    await page.getByLabel('Paths').fill(src);
    await page.getByRole('button', { name: 'Create schedule' }).click();
    const row = page.getByTestId('schedule-table').locator('tr', { hasText: 'weekday-berlin' });
    await row.waitFor();
    await row.getByText(/01:30 CES?T/).waitFor();
    await row.getByText(/19:30 ED?ST your time/).waitFor();
    await shot(page, 'pages-schedules');
  });

  it('titles a backup by its live status: "Backup in progress" becomes "Backup completed"', async () => {
    await page.goto('/backups/new');
    await page.getByLabel('Source path').fill(src);
    await page.getByRole('button', { name: 'Start backup' }).click();
    await page.locator('[data-testid="progress"][data-status="completed"]').waitFor({ timeout: 120_000 });
    await page.getByRole('heading', { name: 'Backup completed', level: 1 }).waitFor({ timeout: 5_000 });
    await shot(page, 'pages-new-backup-completed');
    await page.getByRole('link', { name: 'Open backup details' }).click();
    await page.waitForURL(/\/backups\/backup_/);
    await page.getByRole('heading', { name: 'Backup completed', level: 1 }).waitFor();
    const created = page.locator('dl div', { has: page.getByText('Created by', { exact: true }) });
    expect(await created.locator('dd').textContent()).toBe(server.admin.email);
    const data = page.locator('dl div', { has: page.getByText('Data', { exact: true }) });
    expect(await data.locator('dd').textContent()).toMatch(/ in 20 files$/);
    await page.getByText('all replicas ok').waitFor();
    await shot(page, 'pages-backup-detail');
  });

  it('the storage page names each location directory, the backups it holds, and counts with proper plurals', async () => {
    await page.goto('/storage');
    await page.getByText('2 locations ·').waitFor();
    await expect(page.getByText('location(s)').count()).resolves.toBe(0);
    const wheres = await page.getByTestId('location-where').allTextContents();
    expect(wheres.map((w) => path.basename(w)).sort()).toEqual(['local-a', 'local-b']);
    for (const w of wheres) expect(path.isAbsolute(w)).toBe(true);
    // The default replication factor is 2: the one backup is on both locations.
    expect(await page.getByTestId('location-backups').allTextContents()).toEqual(['1 backup', '1 backup']);
    // Free space of the file system under each local location (statfs), not "—".
    for (const free of await page.getByTestId('location-free').allTextContents()) expect(free).toMatch(/^[\d.]+ [KMGTP]iB$/);
    // The type is not repeated as the region ("local · local").
    await expect(page.getByText('local · local').count()).resolves.toBe(0);
    await page.getByTestId('manage-locations').getByText('local-a', { exact: true }).waitFor();
    await shot(page, 'pages-storage');
  });

  it('the dashboard after a backup: rates, throughput, storage used (no capacity needed) and the alerts chart', async () => {
    await page.goto('/');
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await expect.poll(() => stat('Success rate').textContent(), { timeout: 15_000 }).toBe('100.0%');
    await page.locator('[data-chart="throughput"]').waitFor();
    // Locations without max_size_gb still chart their used bytes (the health monitor samples every 5 s here).
    const usageChart = page.locator('[data-chart="storage-usage-history"]');
    await expect
      .poll(
        async () => {
          await page.reload();
          await usageChart.or(page.getByTestId('no-usage-samples')).waitFor();
          return usageChart.count();
        },
        { timeout: 60_000, interval: 5_000 },
      )
      .toBe(1);
    await page.getByText(/Open alerts, last 7 days/).waitFor();
    await shot(page, 'pages-dashboard');
  });
});
