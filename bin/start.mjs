#!/usr/bin/env node
// `npm start`: brings the console up on http://localhost:${PORT:-3000} (bound to ${HOST:-127.0.0.1}) from a
// fresh checkout. Builds dist/ when a source changed (bin/compiled.mjs: the codec workers and the catalog
// server run from it), reads the configuration first (server/config.ts, compiled: the same data_dir and key
// file as the CLI, wherever it runs from), builds with `next build` when .next is missing or older than the
// sources, keeps a generated AUTH_SECRET (0600) under the data dir, then runs the console's server
// (bin/server.mjs: `next start` plus the client's socket address for sign-in throttling) and opens the
// engine at once (the first admin is created then). Everything printed also goes to
// <data_dir>/logs/plexichat.log (bin/log-file.mjs).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { compiledEntry } from './compiled.mjs';
import { ensureBuild } from './console-build.mjs';
import { LogFile } from './log-file.mjs';
import { withMallocTunables } from '../server/malloc-tunables.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');

const env = withMallocTunables({ ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production' });
env.PLEXICHAT_APP_ROOT ||= root;
env.AUTH_TRUST_HOST ||= 'true';
const port = env.PORT || '3000';
const host = env.HOST || '127.0.0.1';
env.HOST = host;

const compiledConfig = await compiledEntry(root, 'config', 'start');
let configModule;
if (compiledConfig) configModule = await import(pathToFileURL(compiledConfig).href);
else {
  (await import('tsx/esm/api')).register();
  configModule = await import('../server/config.ts');
}
const { loadConfig, ConfigError } = configModule;
let config;
try {
  config = loadConfig(env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(`[start] ${err.message}`);
  process.exit(2);
}
// The console reads the configuration again: give it the data_dir found here, so both agree.
env.PLEXICHAT_DATA_DIR = config.data_dir;
let log;
try {
  log = new LogFile(path.join(config.data_dir, 'logs', 'plexichat.log'));
} catch (err) {
  console.error(`[start] cannot write the log under data_dir ${config.data_dir}: ${err.message}. Run as a user who may write there, or set PLEXICHAT_DATA_DIR to another folder.`);
  process.exit(1);
}
/**
 * What goes to the log file: whole lines, with the generated first admin password (shown once, on the
 * terminal, by server/auth/bootstrap.ts) masked, so the file never holds a secret.
 */
function logLines() {
  let rest = '';
  return (chunk) => {
    const text = rest + chunk.toString();
    const end = text.lastIndexOf('\n') + 1;
    rest = text.slice(end);
    if (end) log.write(text.slice(0, end).replace(/(Created the first admin: email \S+, password )\S+/g, '$1•••• (shown on the terminal only)'));
  };
}
const toLog = logLines();
const say = (line, stream = process.stdout) => {
  stream.write(`${line}\n`);
  toLog(`${line}\n`);
};
say(`[start] ${new Date().toISOString()} data_dir ${config.data_dir}; log ${log.file}`);
const keySource = config.master_key_source;
say(`[start] master key: ${keySource.kind === 'env' ? 'PLEXICHAT_ENCRYPTION_KEY' : `${keySource.path}${existsSync(keySource.path) ? '' : ' (generated at first start)'}`}`);
for (const notice of config.notices ?? []) say(`[start] NOTE: ${notice}`, process.stderr);

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

function run(args, script = nextBin) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { cwd: root, env, stdio: ['inherit', 'pipe', 'pipe'] });
    const [out, err] = [logLines(), logLines()];
    child.stdout.on('data', (d) => (process.stdout.write(d), out(d)));
    child.stderr.on('data', (d) => (process.stderr.write(d), err(d)));
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
  const local = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  const url = `http://${local.includes(':') ? `[${local}]` : local}:${port}/api/health`;
  for (let i = 0; i < 600 && !stopped; i++) {
    try {
      const res = await fetch(url);
      const body = await res.json();
      if (body.status === 'ok' || body.status === 'degraded') {
        say(`\nPlexiChat Backup is ready: open ${config.public_url} and sign in.`);
        return;
      }
      if (i % 10 === 9) say(`[start] waiting for the engine: ${body.database?.error ?? res.status}`);
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

if (!env.AUTH_SECRET) env.AUTH_SECRET = authSecret(env.PLEXICHAT_DATA_DIR);
const built = await ensureBuild(run, (line) => say(line, line.includes('failed') ? process.stderr : process.stdout));
if (built !== 0) process.exit(built);
const server = run([], path.join(root, 'bin', 'server.mjs'));
void warmUp();
process.exitCode = await server;
stopped = true;
