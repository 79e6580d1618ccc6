#!/usr/bin/env node
// Builds the project's own native addons with the node-gyp that npm ships (npm's `prepare`, so `npm ci`
// builds them, as it builds pkcs11js from source with the same tools):
// - native/fallocate: fallocate(2), used by restores to reserve a file's blocks first
//   (server/engine/restore/preallocate.ts);
// - native/readfiles: small files read in batches on libuv's thread pool, used by backups and restores
//   (server/engine/batch-read.ts); and a file mapped as a buffer, used by the embedded catalog server for
//   PGlite's share files (db/pglite-bundle.ts).
// Both are optimisations: where one cannot be built (not Linux, no compiler, no Node headers), this says so
// and exits 0, and the engine does without it.
//   node scripts/build-native.mjs
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADDONS = [
  { name: 'fallocate', without: 'restores will not preallocate files' },
  { name: 'readfiles', without: 'backups will read small files one by one, the catalog server will hold its share files in memory' },
];

/** npm's own node-gyp: npm names it to the scripts it runs; else the one beside this node's npm, else PATH's. */
function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ].filter(Boolean);
  const found = candidates.find((p) => existsSync(p));
  return found ? [process.execPath, found] : ['node-gyp'];
}

if (process.platform !== 'linux') {
  console.log(`[build-native] not Linux: ${ADDONS.map((a) => a.without).join(', ')} (no native addons)`);
  process.exit(0);
}
// Node's headers: the ones installed beside this node (/usr/bin/node -> /usr/include/node, as Debian and
// NodeSource install them; an official tarball is laid out the same way) unless npm_config_nodedir names
// others. Otherwise node-gyp would download them, and there may be no network.
const prefix = path.resolve(path.dirname(process.execPath), '..');
const env = { ...process.env };
if (!env.npm_config_nodedir && existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) env.npm_config_nodedir = prefix;
const [cmd, ...pre] = nodeGyp();
for (const { name, without } of ADDONS) {
  const dir = path.join(root, 'native', name);
  const r = spawnSync(cmd, [...pre, 'rebuild'], { cwd: dir, encoding: 'utf8', env });
  if (r.status === 0 && existsSync(path.join(dir, 'build', 'Release', `${name}.node`))) {
    console.log(`[build-native] built native/${name}`);
  } else {
    const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-8).join('\n');
    console.log(
      `[build-native] could not build native/${name} (${r.error ? r.error.message : `node-gyp exit ${r.status}`}): ${without}. ` +
        `It needs a C compiler, make, python3 and Node's headers (npm_config_nodedir=/usr where Node came from Debian or NodeSource).${tail ? `\n${tail}` : ''}`,
    );
  }
}
