/**
 * Memory footprint of a CLI backup on an embedded installation: the catalog server's high-water mark and
 * the CLI's peak RSS, with headroom over what was measured (catalog ~200 MiB, CLI ~260–340 MiB), but
 * below what they were before the catalog was configured smaller (catalog ~400 MiB). Both run compiled
 * JavaScript (dist/), as they do after `npm ci`.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli';
import { makeEnv, type TestEnv } from '../support/engine-env';

const MiB = 1024 * 1024;
const CATALOG_SERVER_LIMIT_MIB = 280;
const CLI_LIMIT_MIB = 420;

function vmKiB(field: 'VmHWM' | 'VmRSS', status?: string): number {
  // A process that has exited but is not yet reaped (a zombie) has no Vm* lines: 0, its peak was sampled before.
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status ?? '');
  return m ? Number(m[1]) : 0;
}

async function status(pid: number): Promise<string | undefined> {
  return readFile(`/proc/${pid}/status`, 'utf8').catch(() => undefined);
}

async function lockPid(dataDir: string): Promise<number | null> {
  const pid = Number((await readFile(path.join(dataDir, 'catalog.lock'), 'utf8').catch(() => '')).trim());
  return pid > 0 ? pid : null;
}

async function stopCatalogServer(dataDir: string): Promise<void> {
  const pid = await lockPid(dataDir);
  if (!pid) return;
  process.kill(pid, 'SIGTERM');
  for (let i = 0; i < 200 && (await status(pid)); i++) await new Promise((r) => setTimeout(r, 50));
}

/** Mixed data: chat-like JSON that compresses and media-like bytes that do not. */
async function writeTree(root: string): Promise<void> {
  for (let d = 0; d < 20; d++) {
    const dir = path.join(root, `room-${d}`);
    await mkdir(dir, { recursive: true });
    for (let f = 0; f < 40; f++) {
      const msgs = Array.from({ length: 40 }, (_, i) => ({ id: d * 1e6 + f * 100 + i, user: `u${i % 17}`, text: `message ${i} in room ${d} file ${f}` }));
      await writeFile(path.join(dir, `chat-${f}.json`), JSON.stringify(msgs));
    }
    await writeFile(path.join(dir, 'media.bin'), randomBytes(2 * MiB));
  }
}

describe('memory footprint of a backup on an embedded installation', () => {
  let t: TestEnv;
  afterAll(async () => {
    if (t) await stopCatalogServer(t.config.data_dir);
    await t?.cleanup();
  });

  it('keeps the catalog server and the CLI under their memory bounds', async () => {
    t = await makeEnv('embedded', { replication_factor: 1 }, { PLEXICHAT_CATALOG_IDLE_MS: '60000' });
    const src = path.join(t.dir, 'src');
    const first = path.join(t.dir, 'first');
    await mkdir(first);
    await writeFile(path.join(first, 'a.txt'), 'a');
    // Create the installation, then stop its server: the measured backup starts a fresh one, so the
    // server's VmHWM covers exactly its start and this backup.
    const init = await runCli(['backup', first, '--json'], t.env);
    expect(init.code, init.stderr).toBe(0);
    await stopCatalogServer(t.config.data_dir);
    await writeTree(src);

    let cliPeakKiB = 0;
    let serverPid: number | null = null;
    let serverPeakKiB = 0;
    let cliPid = 0;
    const sample = async () => {
      const s = cliPid ? await status(cliPid) : undefined;
      if (s) cliPeakKiB = Math.max(cliPeakKiB, vmKiB('VmHWM', s));
      serverPid ??= await lockPid(t.config.data_dir);
      const ss = serverPid ? await status(serverPid) : undefined;
      if (ss && serverPid) serverPeakKiB = Math.max(serverPeakKiB, vmKiB('VmHWM', ss));
    };
    const timer = setInterval(() => void sample(), 50);
    const r = await runCli(['backup', src, '--json'], t.env, { onSpawn: (pid) => (cliPid = pid) }).finally(() => clearInterval(timer));
    expect(r.code, r.stderr).toBe(0);
    expect((r.json as { status: string; file_count: number }).file_count).toBe(820);
    await sample(); // the server outlives the CLI: its high-water mark now covers the whole backup
    expect(serverPid, 'the backup should have started the catalog server').not.toBeNull();
    expect(cliPeakKiB, 'the CLI process was never sampled').toBeGreaterThan(0);
    // The bounds assume compiled JavaScript: the CLI ran from dist/ (built on first use when stale), so the
    // catalog server it started must run dist/catalog-daemon.mjs, not the TypeScript through tsx.
    const cmdline = (await readFile(`/proc/${serverPid}/cmdline`, 'utf8')).split('\0');
    expect(cmdline.some((a) => a.endsWith('/dist/catalog-daemon.mjs')), cmdline.join(' ')).toBe(true);
    expect(cmdline).not.toContain('tsx');
    const serverMiB = serverPeakKiB / 1024;
    const cliMiB = cliPeakKiB / 1024;
    expect(serverMiB, `catalog server peak ${serverMiB.toFixed(0)} MiB`).toBeLessThan(CATALOG_SERVER_LIMIT_MIB);
    expect(cliMiB, `CLI peak ${cliMiB.toFixed(0)} MiB`).toBeLessThan(CLI_LIMIT_MIB);
  });
});
