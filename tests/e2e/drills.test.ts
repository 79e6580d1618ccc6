/**
 * Restore drills in the console (Chromium against the real console): an admin runs a drill from a backup's
 * page with "Run drill", and the dashboard's card shows the last drill of the source and the RTO trend.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newContext, SHOTS, shot, signInAt, whenHydrated } from './browser';
import { type ConsoleServer, startConsole } from './console-server';

let server: ConsoleServer;
let browser: Browser;
let page: Page;

/** Creates a small payload backup through the console's own API and waits for it to complete. */
async function payloadBackup(p: Page, name: string, text: string): Promise<string> {
  const id = await p.evaluate(
    async ([n, t]) => {
      const res = await fetch('/api/trpc/backup.create', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ source: { kind: 'text', name: n, text: t } }) });
      const json = (await res.json()) as { result?: { data?: { backup_id?: string } } };
      return json.result?.data?.backup_id ?? `failed: ${JSON.stringify(json).slice(0, 300)}`;
    },
    [name, text] as const,
  );
  expect(id).not.toMatch(/^failed/);
  return id;
}

describe('restore drills in the console (Chromium)', () => {
  beforeAll(async () => {
    server = await startConsole();
    browser = await launchChromium();
    page = await (await newContext(browser, server.url)).newPage();
    await signInAt(page, '/', server.admin);
  }, 300_000);

  afterAll(async () => {
    if (server) await writeFile(path.join(SHOTS, '..', 'e2e-drills-server.log'), server.log());
    await browser?.close();
    await server?.stop();
  }, 60_000);

  it('"Run drill" on a backup page passes, and the dashboard shows the last drill per source and the RTO trend', async () => {
    const id = await payloadBackup(page, 'drill-notes.txt', 'restore drills prove the backup restores\n'.repeat(2000));
    await page.goto(`/backups/${id}`);
    // The page offers the drill once the backup is completed; a click before React takes the panel over can be
    // dropped (whenHydrated), and the drill then never runs.
    await page.getByRole('button', { name: 'Run drill' }).waitFor({ timeout: 60_000 });
    await whenHydrated(page, 'select[aria-label="Drill sample"]');
    await page.getByRole('button', { name: 'Run drill' }).click();
    await expect.poll(() => page.getByText(/Drill passed/).count(), { timeout: 60_000 }).toBeGreaterThan(0);
    await page.getByRole('button', { name: 'Run drill' }).click();
    await expect.poll(() => page.getByTestId('backup-drills').locator('li').count(), { timeout: 60_000 }).toBe(2);

    await page.goto('/');
    const card = page.getByTestId('drills-card');
    await card.waitFor({ timeout: 30_000 });
    const row = card.getByTestId('drill-row');
    expect(await row.count()).toBe(1);
    expect(await row.first().textContent()).toMatch(/payload:drill-notes\.txt.*passed/);
    // The trend's points (a flat line between two equal RTOs has no height, so Playwright calls the line itself hidden).
    await card.locator('[data-chart="rto-trend"] .recharts-line-dot').first().waitFor({ timeout: 15_000 });
    expect(await card.locator('[data-chart="rto-trend"] .recharts-line-dot').count()).toBeGreaterThanOrEqual(1);
    await card.scrollIntoViewIfNeeded();
    await shot(page, 'dashboard-drills');
  }, 240_000);
});
