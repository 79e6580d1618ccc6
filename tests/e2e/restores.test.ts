/**
 * Restores in the console (Chromium against the real console): on a backup with one data shard lost from every
 * replica, the restore form fails with a clear message without "Allow partial restore", and with it restores
 * every other file and names the lost ones; the Restores page (and the backup's page) list both jobs from the
 * catalog, for an admin and for a viewer. A MAXIMUM backup restores from the form with k of the key holders'
 * shares pasted into it.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli';
import { launchChromium, newContext, SHOTS, shot, signInAt, trpc } from './browser';
import { type ConsoleServer, startConsole } from './console-server';

const KiB = 1024;
let server: ConsoleServer;
let browser: Browser;
let page: Page;
let backupId: string;
const originals = new Map<string, Buffer>();

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(path.join(e.parentPath, e.name));
  return out;
}

async function restoreFromForm(p: Page, target: string, partial: boolean): Promise<void> {
  await p.goto(`/backups/${backupId}`);
  await p.getByLabel('Target directory').fill(target);
  const box = p.getByTestId('restore-allow-partial');
  if (partial) await box.check();
  else await box.uncheck();
  await p.getByRole('button', { name: 'Restore', exact: true }).click();
  await expect.poll(async () => p.getByTestId('restore-progress').getAttribute('data-status').catch(() => null), { timeout: 120_000 }).toMatch(/completed|failed/);
}

describe('restores in the console (Chromium)', () => {
  beforeAll(async () => {
    server = await startConsole({ PLEXICHAT_HIGH_PASSPHRASE: 'correct horse battery staple' });
    browser = await launchChromium();
    page = await (await newContext(browser, server.url)).newPage();
    await signInAt(page, '/', server.admin);

    // Sixteen files of incompressible data (11 MiB): ~10 data shards of ~1 MiB, so one lost shard leaves most
    // files readable. With ten files (6.8 MiB) content-defined cuts gave 5 shards in 9 % of random draws (CI saw
    // one); with sixteen, never fewer than 7 in 300 simulated draws.
    const src = path.join(server.dir, 'src');
    await mkdir(src, { recursive: true });
    for (let i = 0; i < 16; i++) {
      const data = randomBytes(700 * KiB);
      originals.set(`file-${i}.bin`, data);
      await writeFile(path.join(src, `file-${i}.bin`), data);
    }
    backupId = (await trpc<{ backup_id: string }>(page, 'backup.create', { source: { kind: 'paths', paths: [src] } }, 'mutation')).backup_id;
    for (let i = 0; (await trpc<{ status: string }>(page, 'backup.get', { backupId }, 'query')).status !== 'completed'; i++) {
      if (i > 240) throw new Error(`backup ${backupId} did not complete in 2 minutes`);
      await new Promise((r) => setTimeout(r, 500));
    }
    // The source is gone too, so repair_missing_shards cannot re-create the lost shard from it.
    await rm(src, { recursive: true });

    // One data shard lost from every replica on disk.
    const map = await trpc<{ shards: { shard_id: string; kind: string }[] }>(page, 'backup.shardMap', { backupId, limit: 2000 }, 'query');
    const data = map.shards.filter((s) => s.kind === 'data');
    expect(data.length).toBeGreaterThanOrEqual(6);
    const lost = data[Math.floor(data.length / 2)]!.shard_id;
    const replicas = (await filesUnder(path.join(server.dir, 'data'))).filter((f) => path.basename(f) === lost);
    expect(replicas.length).toBeGreaterThanOrEqual(2);
    for (const f of replicas) await unlink(f);
  }, 400_000);

  afterAll(async () => {
    if (server) await writeFile(path.join(SHOTS, '..', 'e2e-restores-server.log'), server.log());
    await browser?.close();
    await server?.stop();
  }, 60_000);

  it('without "Allow partial restore" the restore fails with a clear message', async () => {
    await restoreFromForm(page, path.join(server.dir, 'restore-strict'), false);
    const progress = page.getByTestId('restore-progress');
    expect(await progress.getAttribute('data-status')).toBe('failed');
    const text = (await progress.textContent()) ?? '';
    expect(text).toMatch(/Restore failed/);
    expect(text).toMatch(/shard/i);
    expect(text).not.toMatch(/--overwrite|--allow-partial/);
    // A failed restore has no ETA "done".
    expect(text).not.toMatch(/ETA\s*done/);
    await progress.scrollIntoViewIfNeeded();
    await shot(page, 'restore-lost-shard-refused');
  }, 200_000);

  it('with "Allow partial restore" it restores every other file and shows which files were lost', async () => {
    const target = path.join(server.dir, 'restore-partial');
    await restoreFromForm(page, target, true);
    expect(await page.getByTestId('restore-progress').getAttribute('data-status')).toBe('completed');
    const lostText = (await page.getByTestId('restore-lost').textContent()) ?? '';
    const lostNames = [...originals.keys()].filter((n) => lostText.includes(n));
    expect(lostNames.length).toBeGreaterThanOrEqual(1);
    expect(lostNames.length).toBeLessThan(originals.size);
    // Every file not named lost is back, byte for byte; the lost ones are absent.
    const restored = new Map((await filesUnder(target)).map((f) => [path.basename(f), f]));
    for (const [name, data] of originals) {
      if (lostNames.includes(name)) expect(restored.has(name), `${name} was reported lost`).toBe(false);
      else expect((await readFile(restored.get(name)!)).equals(data), `${name} restored intact`).toBe(true);
    }
    await page.getByTestId('restore-lost').scrollIntoViewIfNeeded();
    await shot(page, 'restore-partial-lost-files');
  }, 200_000);

  it('the Restores page lists both jobs from the catalog, for an admin and a viewer; so does the backup page', async () => {
    await page.goto('/restores');
    await page.getByRole('link', { name: 'Restores', exact: true }).waitFor();
    const rows = page.getByTestId('restore-row');
    await expect.poll(() => rows.count(), { timeout: 30_000 }).toBe(2);
    expect(await page.locator('[data-testid="restore-row"][data-status="failed"]').textContent()).toMatch(/restore-strict/);
    expect(await page.locator('[data-testid="restore-row"][data-status="completed"]').textContent()).toMatch(/restore-partial.*lost \(partial restore\)/);
    await shot(page, 'restores-page');

    await page.goto(`/backups/${backupId}`);
    await expect.poll(() => page.getByTestId('restore-row').count(), { timeout: 30_000 }).toBe(2);

    const viewer = { email: 'viewer@e2e.test', password: `viewer-${randomBytes(9).toString('base64url')}` };
    await trpc(page, 'users.create', { ...viewer, role: 'viewer' }, 'mutation');
    const vp = await (await newContext(browser, server.url)).newPage();
    await signInAt(vp, '/restores', viewer);
    await expect.poll(() => vp.getByTestId('restore-row').count(), { timeout: 30_000 }).toBe(2);
    expect(await vp.getByRole('link', { name: 'Restores', exact: true }).count()).toBe(1);
    await shot(vp, 'restores-page-viewer');
    await vp.context().close();
  }, 200_000);

  it('a MAXIMUM backup restores from the form with k of the key holders\' shares', async () => {
    const q = await runCli(['keys', 'quorum', 'init', '--threshold', '2', '--holders', '3', '--json'], server.env);
    expect(q.code, q.stderr).toBe(0);
    const shares = (q.json as { shares: string[] }).shares;
    const src = path.join(server.dir, 'secret-src');
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, 'plans.txt'), 'the quarterly plans\n'.repeat(2000));
    const id = (await trpc<{ backup_id: string }>(page, 'backup.create', { source: { kind: 'paths', paths: [src] }, securityLevel: 'maximum' }, 'mutation')).backup_id;
    await expect.poll(async () => (await trpc<{ status: string }>(page, 'backup.get', { backupId: id }, 'query')).status, { timeout: 120_000 }).toBe('completed');

    await page.goto(`/backups/${id}`);
    const target = path.join(server.dir, 'restore-maximum');
    await page.getByLabel('Target directory').fill(target);
    // The file list is sealed to the quorum too: a plain notice, not an error.
    expect(await page.getByTestId('files-need-quorum').textContent()).toMatch(/sealed to the key holders' quorum/);
    await page.getByLabel("Key holders' shares").fill(`${shares[2]}\n${shares[0]}\n`);
    await shot(page, 'restore-maximum-shares');
    await page.getByRole('button', { name: 'Restore', exact: true }).click();
    await expect.poll(async () => page.getByTestId('restore-progress').getAttribute('data-status').catch(() => null), { timeout: 120_000 }).toMatch(/completed|failed/);
    expect(await page.getByTestId('restore-progress').getAttribute('data-status'), (await page.getByTestId('restore-progress').textContent()) ?? '').toBe('completed');
    // The field is emptied once the shares are sent; the file is back.
    expect(await page.getByLabel("Key holders' shares").inputValue()).toBe('');
    const [restored] = (await filesUnder(target)).filter((f) => path.basename(f) === 'plans.txt');
    expect(await readFile(restored!, 'utf8')).toBe('the quarterly plans\n'.repeat(2000));
    await shot(page, 'restore-maximum-done');
  }, 300_000);
});
