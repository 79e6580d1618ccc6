/**
 * Domain errors of the engine. Each face maps them once: tRPC codes in the error formatter, exit codes in
 * the CLI. Messages are written for the operator: what failed, and what to do.
 */
export type EngineErrorCode = 'NOT_FOUND' | 'INVALID' | 'CONFLICT' | 'UNAVAILABLE' | 'INTEGRITY' | 'FORBIDDEN';

export class EngineError extends Error {
  override readonly name = 'EngineError';
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const notFound = (what: string, hint = 'run `plexichat-backup list` to see existing backups') =>
  new EngineError('NOT_FOUND', `${what} not found; ${hint}`);
