// `node --import ./tests/support/import-trace.mjs …`: prints every module URL the process loads, one per
// line on stderr prefixed "[import] ", so a test can tell what a command pulled in.
import { register } from 'node:module';

register(
  'data:text/javascript,' +
    encodeURIComponent(`export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  process.stderr.write('[import] ' + r.url + '\\n');
  return r;
}`),
);
