#!/usr/bin/env node
// The CLI: loads the TypeScript sources through tsx, so `npx plexichat-backup` works right after `npm ci`.
// Usage is plain JavaScript and answered first: `--help` loads neither tsx nor the engine.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
if (!argv[0] || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
  const { HELP } = await import('../server/cli/help.mjs');
  process.stdout.write(`${HELP}\n`);
  process.exitCode = argv[0] ? 0 : 2; // no command at all is a usage error
} else {
  // Shards are written to several locations with an fsync each: more I/O threads let those overlap.
  process.env.UV_THREADPOOL_SIZE ??= '16';
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  process.env.PLEXICHAT_APP_ROOT ??= root;
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../server/cli/main.ts');
  process.exitCode = await main(argv);
}
