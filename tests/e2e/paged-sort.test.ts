/**
 * A paged table sorts every row on the server, not the page it shows (Chromium against the real console):
 * a backup of 80 files whose largest is on the second page in path order; clicking "Size" twice on the
 * backup's file list shows, on page 1, the 50 largest files of the whole backup, largest first, with the
 * header saying "descending"; page 2 continues the order; a search keeps the sort. Also the Backups list,
 * paged at 25: sorting by size descending puts the largest backup first, from any page.
 * Screenshot: tests/artifacts/screenshots/paged-sort-files.png.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium, newContext, SHOTS, shot, signInAt, trpc } from './browser';
import { type ConsoleServer, startConsole } from './console-server';

let server: ConsoleServer;
let browser: Browser;
let page: Page;
let backupId: string;
/** File name → size, for the order the server should give. */
const sizes = new Map<string, number>();

async function backUp(paths: string[]): Promise<string> {
  const id = (await trpc<{ backup_id: string }>(page, 'backup.create', { source: { kind: 'paths', paths } }, 'mutation')).backup_id;
  for (let i = 0; (await trpc<{ status: string }>(page, 'backup.get', { backupId: id }, 'query')).status !== 'completed'; i++) {
    if (i > 240) throw new Error(`backup ${id} did not complete in 2 minutes`);
    await new Promise((r) => setTimeout(r, 500));
  }
  return id;
}

/** The file names in the file table, top to bottom. */
const shownFiles = async () => (await page.getByTestId('backup-files').locator('tbody tr td:first-child').allTextContents()).map((t) => path.basename(t.replace(/\s*\(.*\)$/, '')));
const bySizeDesc = () => [...sizes].sort(([a, x], [b, y]) => y - x || (a < b ? 1 : -1)).map(([name]) => name);

describe('paged tables sort on the server (Chromium)', () => {
  beforeAll(async () => {
    server = await startConsole();
    browser = await launchChromium();
    page = await (await newContext(browser, server.url)).newPage();
    await signInAt(page, '/', server.admin);
    // 80 files of distinct sizes; the largest (file-67) is on page 2 of the 50-row list in path order.
    const src = path.join(server.dir, 'src');
    await mkdir(src, { recursive: true });
    for (let i = 0; i < 80; i++) {
      const name = `file-${String(i).padStart(2, '0')}.bin`;
      const size = 1000 + ((i * 37) % 80) * 100;
      sizes.set(name, size);
      await writeFile(path.join(src, name), randomBytes(size));
    }
    backupId = await backUp([src]);
    // A second, larger backup for the Backups list, then enough small ones that the list is paged.
    const big = path.join(server.dir, 'big');
    await mkdir(big, { recursive: true });
    await writeFile(path.join(big, 'big.bin'), randomBytes(600 * 1024));
    await backUp([big]);
    const small = path.join(server.dir, 'small');
    await mkdir(small, { recursive: true });
    await writeFile(path.join(small, 'small.bin'), randomBytes(10));
    for (let i = 0; i < 26; i++) await backUp([small]);
  }, 600_000);

  afterAll(async () => {
    if (server) await writeFile(path.join(SHOTS, '..', 'e2e-paged-sort-server.log'), server.log());
    await browser?.close();
    await server?.stop();
  }, 60_000);

  it("sorts a backup's files by size over the whole backup, not the page shown", async () => {
    await page.goto(`/backups/${encodeURIComponent(backupId)}`);
    const table = page.getByTestId('backup-files');
    await table.locator('tbody tr').first().waitFor();
    const first50 = await shownFiles();
    expect(first50).toHaveLength(50);
    expect(first50).not.toContain('file-67.bin');

    const sizeHeader = table.locator('th', { hasText: 'Size' });
    await sizeHeader.getByRole('button').click();
    await expect.poll(() => sizeHeader.getAttribute('aria-sort')).toBe('ascending');
    await expect.poll(shownFiles).toEqual(bySizeDesc().reverse().slice(0, 50));
    await sizeHeader.getByRole('button').click();
    await expect.poll(() => sizeHeader.getAttribute('aria-sort')).toBe('descending');
    await expect.poll(shownFiles).toEqual(bySizeDesc().slice(0, 50));
    expect((await shownFiles())[0]).toBe('file-67.bin');
    await expect(table.locator('th[aria-sort=descending]').getByText('▼').count()).resolves.toBe(1);
    await shot(page, 'paged-sort-files');

    // Page 2 continues the order; a new sort goes back to page 1.
    // The file list's pager is the page's only one (the shard map pages beyond 200 shards).
    await page.getByRole('button', { name: 'Next' }).click();
    await expect.poll(shownFiles).toEqual(bySizeDesc().slice(50));
    await table.locator('th', { hasText: 'Path' }).getByRole('button').click();
    await expect.poll(shownFiles).toEqual([...sizes.keys()].sort().slice(0, 50));

    // A search keeps the sort: the files whose name holds "-1", largest first.
    await sizeHeader.getByRole('button').click();
    await sizeHeader.getByRole('button').click();
    await page.getByLabel('Search files').fill('file-1');
    await expect.poll(shownFiles).toEqual(bySizeDesc().filter((n) => n.startsWith('file-1')));
  });

  it('sorts the Backups list by size over every page', async () => {
    await page.goto('/backups');
    const table = page.getByTestId('backup-table');
    await table.locator('tbody tr').first().waitFor();
    await page.getByText(/1–25 of 28/).waitFor();
    const sizeHeader = table.locator('th', { hasText: 'Size' });
    await sizeHeader.getByRole('button').click();
    await expect.poll(() => sizeHeader.getAttribute('aria-sort')).toBe('ascending');
    await sizeHeader.getByRole('button').click();
    await expect.poll(() => sizeHeader.getAttribute('aria-sort')).toBe('descending');
    // The largest backup (600 KiB, the second made: on the last page newest first) is now first.
    await expect.poll(async () => table.locator('tbody tr').first().locator('td').nth(3).textContent()).toMatch(/600(\.0)? KiB/);
    await shot(page, 'paged-sort-backups');
  });
});
