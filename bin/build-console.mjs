#!/usr/bin/env node
// Builds the console when its build is missing or stale (as `npm start` would), then exits. The test suite
// runs it once first, so the browser tests that start consoles in parallel never wait on a build.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ensureBuild, root } from './console-build.mjs';

const nextBin = createRequire(import.meta.url).resolve('next/dist/bin/next');
// The build never needs an installation: a throwaway data dir keeps it from touching the machine's.
const scratch = mkdtempSync(path.join(tmpdir(), 'plexichat-build-'));
const env = { ...process.env, NEXT_TELEMETRY_DISABLED: '1', NODE_ENV: 'production', PLEXICHAT_APP_ROOT: root, PLEXICHAT_DATA_DIR: scratch };
const run = (args) =>
  new Promise((resolve) => {
    const child = spawn(process.execPath, [nextBin, ...args], { cwd: root, env, stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
try {
  process.exitCode = await ensureBuild(run, (line) => console.log(line));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
