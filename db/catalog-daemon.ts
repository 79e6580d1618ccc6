/** Entry point of the detached embedded catalog process (see embedded-server.ts). */
import { spawn } from 'node:child_process';
import { setFlagsFromString } from 'node:v8';
import { exposedGc } from '../server/exposed-gc';
import { CatalogLockedError, runEmbeddedServer } from './embedded-server';

const dataDir = process.argv[2];
if (!dataDir) {
  console.error('usage: catalog-daemon <data dir>');
  process.exit(2);
}
// PGlite's WebAssembly is compiled when the database opens (below), so this still applies. V8's optimising
// tier (TurboFan) kept ~90 MiB of code for it and measured no faster on catalog queries than the baseline
// compiler alone (docs/operations.md, "Memory").
setFlagsFromString('--liftoff-only');
// Its JavaScript (the wire protocol, PGlite's glue) optimised only once it stays hot for 4× V8 11's budget,
// as the CLI does (bin/plexichat-backup.mjs says why; V8 12, Node 22, has no such flag). A new installation,
// 3 runs each in turns: the catalog server's CPU 2.12-2.21 -> 1.56-1.95 s, the first command 2.76-2.84 ->
// 2.14-2.68 s; then a 1 GiB chat JSON backup cost it 0.77-0.84 -> 0.60-0.71 s.
if (Number(process.versions.v8.split('.')[0]) < 12) setFlagsFromString('--interrupt-budget=270336');
const idleMs = Number(process.env.PLEXICHAT_CATALOG_IDLE_MS ?? 60_000);
const ownerIdleMs = Number(process.env.PLEXICHAT_CATALOG_TX_IDLE_MS ?? 60_000);
const log = (msg: string) => console.log(`${new Date().toISOString()} ${msg}`);

try {
  const server = await runEmbeddedServer({ dataDir, idleMs, ownerIdleMs, log, restartAfterInit: true });
  if (server.restart) {
    // A new process serves the new database (same command line, same log); clients keep waiting for the socket.
    spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], { cwd: process.cwd(), detached: true, stdio: 'inherit', env: process.env }).unref();
    process.exit(0);
  }
  // Opening the database left garbage V8 would keep for hours (this process allocates too little to prompt a
  // full collection): PGlite reads its 9 MB WebAssembly module into a buffer, dead once compiled. One full
  // collection now: ~9 MiB less private memory for the server's lifetime.
  exposedGc()?.();
  // However it stops (idle, signal, lock gone, the database engine exited), the process ends with it.
  void server.stopped.then(() => process.exit(0));
  const shutdown = () => void server.stop();
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
} catch (err) {
  if (err instanceof CatalogLockedError) {
    log(err.message);
    process.exit(0);
  }
  log(`catalog server failed: ${(err as Error).stack ?? err}`);
  process.exit(1);
}
