/**
 * Domain errors of the engine. Each face maps them once: tRPC codes in the error formatter, exit codes in
 * the CLI. Messages are written for the operator: what failed, and what to do.
 */
export type EngineErrorCode = 'NOT_FOUND' | 'INVALID' | 'CONFLICT' | 'UNAVAILABLE' | 'INTEGRITY' | 'FORBIDDEN';

/**
 * Marks engine errors across module copies: the console's server bundles the engine more than once (the
 * instrumentation that opens it, and the route handlers that call it), so `instanceof` tests the brand, not
 * the class object, or an engine's error would reach a browser as "something went wrong".
 */
const BRAND = Symbol.for('plexichat.EngineError');

export class EngineError extends Error {
  override readonly name = 'EngineError';
  readonly [BRAND] = true;
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }
}

export const notFound = (what: string, hint = 'run `plexichat-backup list` to see existing backups') =>
  new EngineError('NOT_FOUND', `${what} not found; ${hint}`);

/**
 * A restore refused because it would replace something: the message ends with the CLI's way out
 * (--overwrite); `details.without_hint` lets the console say it in its own words (restore-job-run.ts).
 */
export function needsOverwrite(base: string, cliHint: string, code: EngineErrorCode = 'INVALID'): EngineError {
  return new EngineError(code, `${base} ${cliHint}`, { needs_overwrite: true, without_hint: base });
}
