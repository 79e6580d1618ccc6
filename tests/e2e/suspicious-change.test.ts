/**
 * Ransomware signals in the console (Chromium against the real console): a backup made after most files were
 * rewritten with random bytes and renamed to .locked shows a "suspicious" badge in the list and on its page
 * with the numbers and example files; the admin's Acknowledge records who did it; the dashboard charts the
 * share of files changed per source.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli';
import { prose, seeded } from '../support/change-patterns';
import { launchChromium, newContext, SHOTS, shot, signInAt } from './browser';
import { type ConsoleServer, startConsole } from './console-server';

let server: ConsoleServer;
let browser: Browser;
let page: Page;

describe('suspicious backups in the console (Chromium)', () => {
  beforeAll(async () => {
    server = await startConsole();
    browser = await launchChromium();
    page = await (await newContext(browser, server.url)).newPage();
    await signInAt(page, '/', server.admin);
  }, 300_000);

  afterAll(async () => {
    if (server) await writeFile(path.join(SHOTS, '..', 'e2e-suspicious-server.log'), server.log());
    await browser?.close();
    await server?.stop();
  }, 60_000);

  it('badge, numbers and Acknowledge on the backup page; change rate on the dashboard', async () => {
    const src = path.join(server.dir, 'notes');
    mkdirSync(src, { recursive: true });
    const rand = seeded(21);
    const files = Array.from({ length: 100 }, (_, i) => path.join(src, `n${i}.txt`));
    for (const f of files) writeFileSync(f, prose(rand, 1500));
    const backup = async () => {
      const r = await runCli(['backup', src, '--json'], server.env);
      expect(r.code, r.stderr).toBe(0);
      return (r.json as { backup_id: string }).backup_id;
    };
    await backup();
    for (const f of files.slice(0, 5)) writeFileSync(f, prose(rand, 1500));
    await backup();
    for (const f of files.slice(0, 70)) {
      writeFileSync(`${f}.locked`, randomBytes(1500));
      unlinkSync(f);
    }
    const id = await backup();

    await page.goto('/backups');
    await expect.poll(() => page.getByText('suspicious', { exact: true }).count(), { timeout: 30_000 }).toBe(1);
    await page.goto(`/backups/${id}`);
    const panel = page.getByTestId('suspicious-change');
    await panel.waitFor({ timeout: 30_000 });
    expect(await panel.textContent()).toMatch(/70 of 100 files \(70 %\).*\.locked/);
    await shot(page, 'suspicious-backup');
    await panel.getByRole('button', { name: 'Acknowledge' }).click();
    await expect.poll(() => panel.getByText(/Acknowledged by admin@e2e\.test/).count(), { timeout: 30_000 }).toBe(1);
    expect(await page.getByText('suspicious (acknowledged)').count()).toBe(1);

    await page.goto('/');
    await page.locator('[data-chart="change-rate"] .recharts-line').first().waitFor({ timeout: 30_000 });
    await page.locator('[data-chart="change-rate"]').scrollIntoViewIfNeeded();
    await shot(page, 'dashboard-change-rate');
  }, 240_000);
});
