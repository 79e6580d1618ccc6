#!/usr/bin/env node
// The CLI: loads the TypeScript sources through tsx, so `npx plexichat-backup` works right after `npm ci`.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

// Shards are written to several locations with an fsync each: more I/O threads let those overlap.
process.env.UV_THREADPOOL_SIZE ??= '16';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
process.env.PLEXICHAT_APP_ROOT ??= root;
register();
const { main } = await import('../server/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
