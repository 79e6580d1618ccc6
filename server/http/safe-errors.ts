/**
 * What an unexpected error may show a user: a generic sentence and an id; the details (SQL, parameters,
 * driver messages, stacks) go to the log under that id. Shared by the tRPC error mapping, route handlers
 * and the CLI.
 */
import { randomBytes } from 'node:crypto';

const ids = new WeakMap<object, string>();

/** A short id for an error, the same every time it is asked for the same error object. */
export function errorIdFor(err: unknown): string {
  if (err === null || typeof err !== 'object') return randomBytes(4).toString('hex');
  let id = ids.get(err);
  if (!id) {
    id = randomBytes(4).toString('hex');
    ids.set(err, id);
  }
  return id;
}

function causes(err: unknown): unknown[] {
  const out: unknown[] = [];
  for (let e = err, i = 0; e && typeof e === 'object' && i < 8; e = (e as { cause?: unknown }).cause, i++) out.push(e);
  return out;
}

/**
 * True for an error raised by the database driver or the query builder, anywhere in the cause chain:
 * drizzle's `Failed query: <sql>` wrapper, node-postgres' DatabaseError (a SQLSTATE `code` and a
 * `severity`), or a message that quotes a query.
 */
export function isDatabaseError(err: unknown): boolean {
  return causes(err).some((e) => {
    const x = e as { name?: unknown; code?: unknown; severity?: unknown; message?: unknown; query?: unknown };
    if (x.name === 'DrizzleQueryError' || x.name === 'DatabaseError') return true;
    if (typeof x.code === 'string' && /^[0-9A-Z]{5}$/.test(x.code) && typeof x.severity === 'string') return true;
    return typeof x.message === 'string' && /^Failed query:|\nparams:/.test(x.message);
  });
}

/** The full text of an error for the log: every cause's stack or message. */
export function errorDetails(err: unknown): string {
  return causes(err)
    .map((e) => (e instanceof Error ? (e.stack ?? `${e.name}: ${e.message}`) : String(e)))
    .join('\n  caused by: ');
}
