/**
 * Runs the console for end-to-end tests the way a user does: `node bin/start.mjs` (which builds when the
 * build is missing or stale), on a free port, with a throwaway data dir and known admin credentials.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { catalogStopped } from '../support/catalog-stop';

export interface ConsoleServer {
  url: string;
  dir: string;
  admin: { email: string; password: string };
  metricsToken: string;
  secrets: string[];
  /** The server's environment: a CLI run with it uses the same installation. */
  env: NodeJS.ProcessEnv;
  /** Everything the server printed (stdout + stderr). */
  log(): string;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (addr && typeof addr === 'object' ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number, log: () => string): Promise<void> {
  const started = Date.now();
  let deadline = Date.now() + timeoutMs;
  let answering = false;
  let last = '';
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the console exited with ${child.exitCode}:\n${log().slice(-4000)}`);
    try {
      const res = await fetch(`${url}/api/health`);
      // Signed out, /api/health says only ok, degraded (the database answers; a location does not) or down.
      const body = (await res.json()) as { status?: string };
      if (body.status === 'ok' || body.status === 'degraded') return;
      last = `${res.status} ${body.status ?? ''}`;
      // Built and listening: the engine gets 60 s more to open, then its error is the answer.
      if (!answering) deadline = Math.min(deadline, Date.now() + 60_000);
      answering = true;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the console did not become healthy after ${Math.round((Date.now() - started) / 1000)}s (last: ${last}):\n${log().slice(-4000)}`);
}

export async function startConsole(extraEnv: Record<string, string> = {}): Promise<ConsoleServer> {
  const dir = await mkdtemp(path.join(tmpdir(), 'px-e2e-'));
  const port = await freePort();
  const admin = { email: 'admin@e2e.test', password: `admin-${randomBytes(9).toString('base64url')}` };
  const metricsToken = randomBytes(16).toString('hex');
  const encryptionKey = randomBytes(32).toString('hex');
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    PLEXICHAT_DATA_DIR: path.join(dir, 'data'),
    PLEXICHAT_ADMIN_EMAIL: admin.email,
    PLEXICHAT_ADMIN_PASSWORD: admin.password,
    PLEXICHAT_METRICS_TOKEN: metricsToken,
    PLEXICHAT_ENCRYPTION_KEY: encryptionKey,
    PLEXICHAT_CATALOG_IDLE_MS: '5000',
    // Alert links point at this console, so a test can follow them.
    PLEXICHAT_PUBLIC_URL: `http://127.0.0.1:${port}`,
    ...extraEnv,
  };
  for (const k of ['AUTH_SECRET', 'DATABASE_URL', 'PLEXICHAT_CONFIG', 'NODE_ENV']) delete env[k];
  let output = '';
  const child = spawn(process.execPath, ['bin/start.mjs'], { cwd: path.resolve('.'), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.pid) {
      const exited = new Promise((r) => child.once('exit', r));
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 10_000);
      await exited;
      clearTimeout(timer);
    }
    // The embedded catalog daemon exits by itself 5 s after its last client (PLEXICHAT_CATALOG_IDLE_MS).
    await catalogStopped(path.join(dir, 'data'));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitHealthy(url, child, 280_000, () => output);
  } catch (err) {
    await stop();
    throw err;
  }
  return { url, dir, admin, metricsToken, secrets: [admin.password, encryptionKey, metricsToken], env, log: () => output, stop };
}
