/**
 * `npm start` (node bin/start.mjs) on a fresh data dir, run from another folder: the console listens on
 * 127.0.0.1 only, everything it prints also lands in <data_dir>/logs/plexichat.log, and that log holds no
 * warning (Turbopack's "dynamic filesystem access" when it builds, MaxListenersExceededWarning once the
 * worker has ticked a dozen times) and not the first admin's password. Builds Next when the build is stale,
 * so the timeout is long.
 */
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { catalogStopped } from '../support/catalog-stop';

const root = path.resolve('.');
let dir = '';
let stop: () => Promise<void> = async () => undefined;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Local addresses of this port's listening TCP sockets, from /proc/net/tcp and tcp6 (hex, as the kernel writes them). */
async function listeners(port: number): Promise<string[]> {
  const out: string[] = [];
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const lines = (await readFile(f, 'utf8').catch(() => '')).split('\n').slice(1);
    for (const l of lines) {
      const [, local, , state] = l.trim().split(/\s+/);
      if (!local || state !== '0A') continue;
      const [addr, p] = local.split(':');
      if (parseInt(p!, 16) === port) out.push(addr!);
    }
  }
  return out;
}

const refused = (host: string, port: number) =>
  new Promise<string>((resolve) => {
    const c = createConnection({ host, port, timeout: 3000 });
    c.once('connect', () => (c.destroy(), resolve('connected')));
    c.once('timeout', () => (c.destroy(), resolve('timeout')));
    c.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'));
  });

afterAll(async () => {
  await stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm start on a fresh data dir', () => {
  it('listens on 127.0.0.1 only and logs to data_dir/logs/plexichat.log without a warning', async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'px-start-'));
    const elsewhere = path.join(dir, 'elsewhere');
    await mkdir(elsewhere);
    const port = await freePort();
    const dataDir = path.join(dir, 'data');
    const keyFile = path.join(dir, 'keys', 'master.key');
    const env: Record<string, string | undefined> = { PATH: process.env.PATH, HOME: path.join(dir, 'home'), PORT: String(port), PLEXICHAT_DATA_DIR: dataDir, PLEXICHAT_KEY_FILE: keyFile, PLEXICHAT_CATALOG_IDLE_MS: '1000', PLEXICHAT_WORKER_TICK_MS: '500' };
    let output = '';
    const child = spawn(process.execPath, [path.join(root, 'bin', 'start.mjs')], { cwd: elsewhere, env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    stop = async () => {
      if (child.exitCode === null && child.pid) {
        process.kill(-child.pid, 'SIGTERM');
        const t = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      await catalogStopped(dataDir); // the embedded catalog stops 1 s after its last client
    };

    const deadline = Date.now() + 15 * 60_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`npm start exited with ${child.exitCode}:\n${output.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`the console did not come up:\n${output.slice(-4000)}`);
      const body = await fetch(`http://127.0.0.1:${port}/api/health`)
        .then((r) => r.json() as Promise<{ status?: string }>)
        .catch(() => ({ status: undefined }));
      if (body.status === 'ok' || body.status === 'degraded') break;
      await new Promise((r) => setTimeout(r, 1000));
    }

    // Bound to the loopback address alone (0100007F is 127.0.0.1 as the kernel writes it), nothing on IPv6.
    expect(await listeners(port)).toEqual(['0100007F']);
    const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
    if (external) expect(await refused(external.address, port)).toBe('ECONNREFUSED');

    // The schedule worker ticks every 500 ms here (5 s by default): a listener left per tick warned after the 11th.
    await new Promise((r) => setTimeout(r, 9_000));
    expect(output).not.toMatch(/worker tick failed/);
    await stop();
    stop = async () => undefined;

    const log = await readFile(path.join(dataDir, 'logs', 'plexichat.log'), 'utf8');
    expect(log).toContain(`[server] listening on 127.0.0.1 port ${port}`);
    expect(log).toContain(`[start] master key: ${keyFile}`);
    expect(log).toContain('PlexiChat Backup is ready');
    const warnings = log.split('\n').filter((l) => /warn/i.test(l) && !/generated a new master key/.test(l));
    expect(warnings).toEqual([]);
    expect(log).not.toMatch(/MaxListenersExceeded|Dynamic filesystem access/);
    // The first admin's password is shown on the terminal once, never written to the log.
    const password = /Created the first admin: email \S+, password (\S+)/.exec(output)?.[1];
    expect(password).toBeDefined();
    expect(log).not.toContain(password!);
    expect(log).toMatch(/password •••• \(shown on the terminal only\)/);
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(path.join(dataDir, 'logs', 'plexichat.log'))).mode & 0o777).toBe(0o600);
  }, 20 * 60_000);
});
