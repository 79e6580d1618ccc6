#!/usr/bin/env node
// `npm start`: brings the console up on http://localhost:${PORT:-3000} from a fresh checkout. Builds with
// `next build` when .next is missing or older than the sources, keeps a generated AUTH_SECRET (0600) under
// the data dir, then runs the console's server (bin/server.mjs: `next start` plus the client's socket address
// for sign-in throttling) and opens the engine at once (the first admin is created then).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
const SOURCES = ['app', 'components', 'server', 'db', 'proxy.ts', 'instrumentation.ts', 'next.config.ts', 'postcss.config.mjs', 'package.json', 'package-lock.json', 'tsconfig.json'];

const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' };
env.PLEXICHAT_APP_ROOT ||= root;
env.PLEXICHAT_DATA_DIR = path.resolve(process.cwd(), env.PLEXICHAT_DATA_DIR || '.plexichat');
env.AUTH_TRUST_HOST ||= 'true';
const port = env.PORT || '3000';

function authSecret(dataDir) {
  const file = path.join(dataDir, 'auth-secret');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  if (!existsSync(file)) {
    try {
      writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
  }
  chmodSync(file, 0o600);
  return readFileSync(file, 'utf8').trim();
}

function newestMtime(p) {
  let st;
  try {
    st = statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const e of readdirSync(p)) if (e !== 'node_modules' && !e.startsWith('.')) max = Math.max(max, newestMtime(path.join(p, e)));
  return max;
}

function buildIsStale() {
  const stamp = path.join(root, '.next', 'BUILD_ID');
  if (!existsSync(stamp)) return 'no build found';
  const built = statSync(stamp).mtimeMs;
  const changed = SOURCES.find((s) => newestMtime(path.join(root, s)) > built);
  return changed ? `${changed} changed since the last build` : null;
}

function run(args, script = nextBin) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: root, env, stdio: 'inherit' });
    const forward = (sig) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.on('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? (signal ? 1 : 0));
    });
  });
}

let stopped = false;
async function warmUp() {
  const url = `http://127.0.0.1:${port}/api/health`;
  for (let i = 0; i < 600 && !stopped; i++) {
    try {
      const res = await fetch(url);
      const body = await res.json();
      if (body.status === 'ok' || body.status === 'degraded') {
        console.log(`\nPlexiChat Backup is ready: open http://localhost:${port} and sign in.`);
        return;
      }
      if (i % 10 === 9) console.log(`[start] waiting for the engine: ${body.database?.error ?? res.status}`);
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

/**
 * One build at a time: a second `npm start` while another one builds waits for it (and then finds the
 * build fresh) instead of writing into the same .next directory. A lock left by a killed build is taken over.
 */
const LOCK = path.join(root, '.next-build.lock');
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}
async function withBuildLock(fn) {
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(path.join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let holder = 0;
      try {
        holder = Number(readFileSync(path.join(LOCK, 'pid'), 'utf8'));
      } catch {
        // being created or removed; look again
      }
      if (holder && !alive(holder)) rmSync(LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

if (!env.AUTH_SECRET) env.AUTH_SECRET = authSecret(env.PLEXICHAT_DATA_DIR);
if (buildIsStale()) {
  await withBuildLock(async () => {
    const stale = buildIsStale();
    if (!stale) return;
    console.log(`[start] building the console (${stale}) …`);
    const code = await run(['build']);
    if (code !== 0) {
      console.error('[start] the build failed; see the errors above.');
      process.exit(code);
    }
  });
}
const server = run([], path.join(root, 'bin', 'server.mjs'));
void warmUp();
process.exitCode = await server;
stopped = true;
