#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=4194304 node --max-semi-space-size=2 --initial-old-space-size=32 --heap-growing-percent=50
// The CLI. It starts with three heap settings (the shebang: V8 takes them only at start, and a re-exec would
// cost a second process). A small young generation: a backup or restore moves its data in Buffers whose
// memory lives outside the heap and is freed only when their small heap objects are collected, so a 16 MiB
// semi-space let tens of MiB of dead buffers wait for each scavenge. A 32 MiB starting old generation: V8's
// default starts it at a few MiB and, the heap being cheap to mark, grows it by a factor of 1.2, so a 1 GiB
// backup ran ~65 full collections of a 13 MiB heap (their concurrent marking was ~10 % of the backup's CPU);
// with it ~33, and the same peak memory. An old generation that grows to 1.5× what a full collection left
// (V8 picks a factor between 1.1 and 4 from how fast it marks against how fast the program allocates): a
// backup of 200,000 small files makes a JavaScript object or two per file, many of which live long enough
// to be promoted, and the main thread's heap grew to ~47 MiB around ~16 MiB of live objects (the walk
// thread's to ~28). With it, that backup's peak RSS went from 194–209 MiB (five runs) to 171–186 MiB
// (three; in turns, caches dropped), for 27 full collections instead of 11 (+60 ms of their pauses in
// ~19 s); a 1 GiB backup ran 65 instead of 55 and peaked at 187–197 instead of 194–203 MiB, its time within
// the runs' spread. The setting is V8's, so it holds for the codec and scan threads too. The shebang also
// sets two glibc malloc tunables before the process starts (glibc reads them only then):
// server/malloc-tunables.mjs says why, and a test holds the two equal.
// `node bin/plexichat-backup.mjs` runs without any of these.
// Runs the compiled JavaScript in dist/ (scripts/build-dist.mjs, built by `npm ci`); when a source
// changed since that build it builds again first, and when it cannot (no esbuild, a read-only install) it
// loads the TypeScript sources through tsx, slower but never stale. Usage is plain JavaScript and answered
// first: `--help` loads neither the build nor the engine.
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { setFlagsFromString } from 'node:v8';

// V8's optimising compiler takes a function once it has run for an "interrupt budget" of bytecode; the
// budget here is 4× V8 11's default (67,584), so a command of a few seconds optimises only what runs hot
// for longer. On 2 cores those compiles, on V8's helper threads, had cost ~0.3 s of CPU per command (three
// isolates: main, codec and scan threads), ~8 % of a restore's. Set here, not in the shebang, so that it
// holds for every thread started after it (V8's flags are the process's) and never stops a newer Node: V8 12
// (Node 22) has no such flag (it counts invocations instead); not measured there, so left as it is.
// In turns, caches dropped: restore of 999 MiB of shared libraries, 5 runs each, CPU 3.9-4.8 (mean 4.37) ->
// 3.7-4.1 s (3.95), of which compiling 0.33 -> 0.04 s, wall 2.69-4.05 -> 2.69-2.80 s; restore of 1 GiB of
// chat JSON, 4 each, CPU 4.27-4.38 -> 3.78-4.05 s, wall 2.76-2.87 -> 2.64-2.71 s; backup of 200,000 files,
// 3 each, 19.5-21.8 -> 18.6-20.2 s, and its unchanged incremental 4.62-4.72 -> 4.25-4.67 s; a 1 GiB chat
// JSON backup and an unchanged incremental of 1 GiB within the runs' spread.
if (Number(process.versions.v8.split('.')[0]) < 12) setFlagsFromString('--interrupt-budget=270336');

const argv = process.argv.slice(2);
if (!argv[0] || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
  const { HELP } = await import('../server/cli/help.mjs');
  process.stdout.write(`${HELP}\n`);
  process.exitCode = argv[0] ? 0 : 2; // no command at all is a usage error
} else {
  // libuv's thread pool keeps its default 4 threads: it is already running when this line is reached (the ESM
  // loader read this file through it), so setting UV_THREADPOOL_SIZE here, as this file did until session 33,
  // changed nothing. Made effective from outside (the variable set before node starts), 16 threads were no
  // faster: 1 GiB random backed up to the default two local locations (replication 2, an fsync per copy),
  // 3 runs each in turns, 8.36-9.13 s against 8.56-8.79 s with 4.
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  process.env.PLEXICHAT_APP_ROOT ??= root;
  const { compiledEntry } = await import('./compiled.mjs');
  const cli = await compiledEntry(root, 'cli', 'plexichat-backup');
  // A backup or restore runs on the codec threads and the scan thread: started now, they load while the
  // engine loads and the catalog opens (server/worker-prestart.mjs). Only with the build (compiledEntry
  // checked it is current) and this application's (the pool starts them from PLEXICHAT_APP_ROOT): through
  // tsx the pool starts its own, from the sources.
  if (cli && process.env.PLEXICHAT_APP_ROOT === root && (argv[0] === 'backup' || argv[0] === 'restore') && !argv.includes('--help')) {
    const { codecThreadCount, prestartWorkers } = await import('../server/worker-prestart.mjs');
    const { distFile } = await import('../server/dist.mjs');
    prestartWorkers(distFile(root, 'codec-worker'), codecThreadCount() + 1);
  }
  // pg asks at load whether it runs in a Cloudflare Worker: where Node has no `navigator` (before 21) it
  // builds a fetch Response to find out, which loads Node's whole fetch implementation (~40 ms of every
  // command). The stand-in answers like Node 21's navigator, and only while the modules load.
  const standIn = !('navigator' in globalThis);
  if (standIn) Object.defineProperty(globalThis, 'navigator', { value: { userAgent: `Node.js/${process.versions.node.split('.')[0]}` }, configurable: true });
  let main;
  try {
    if (cli) ({ main } = await import(pathToFileURL(cli).href));
    else {
      const { register } = await import('tsx/esm/api');
      register();
      ({ main } = await import('../server/cli/main.ts'));
    }
  } finally {
    if (standIn) delete globalThis.navigator;
  }
  process.exitCode = await main(argv);
}
