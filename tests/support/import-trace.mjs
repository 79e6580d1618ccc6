// `node --import ./tests/support/import-trace.mjs …`: prints every module URL the process loads, one per
// line on stderr prefixed "[import] ", so a test can tell what a command pulled in. Written with writeSync on
// fd 2: the hooks run on a thread of their own, whose process.stderr is forwarded to the main thread, and a
// command that exits right after its last import (--help) could end before the line got there (seen in CI).
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`import { writeSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  writeSync(2, '[import] ' + r.url + '\\n');
  return r;
}`),
);
