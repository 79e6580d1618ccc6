/**
 * Domain errors → tRPC codes, in one place (used by the error formatter). Engine and user-service messages
 * are written for people and pass through verbatim; unexpected errors are reduced to a generic message so
 * nothing internal (SQL, paths of secrets, stack traces) reaches a browser.
 */
import type { TRPCError } from '@trpc/server';
import { getHTTPStatusCodeFromError } from '@trpc/server/http';
import { TRPC_ERROR_CODES_BY_KEY, type TRPC_ERROR_CODE_KEY } from '@trpc/server/rpc';
import { EngineError, type EngineErrorCode } from '../engine/errors';
import { UserError } from '../auth/users';
import { errorIdFor, isDatabaseError } from '../http/safe-errors';

const ENGINE_CODES: Record<EngineErrorCode, TRPC_ERROR_CODE_KEY> = {
  NOT_FOUND: 'NOT_FOUND',
  INVALID: 'BAD_REQUEST',
  CONFLICT: 'CONFLICT',
  UNAVAILABLE: 'INTERNAL_SERVER_ERROR',
  INTEGRITY: 'PRECONDITION_FAILED',
  FORBIDDEN: 'FORBIDDEN',
};

/** tRPC's own table (405 for a GET on a mutation, 413, 415, 429 …): a code missing here once became a 500. */
const httpStatus = (key: TRPC_ERROR_CODE_KEY): number => getHTTPStatusCodeFromError({ code: key } as TRPCError);

export const GENERIC_MESSAGE = 'Something went wrong on the server; the server log has the details.';

interface Issue {
  path?: readonly (PropertyKey | { key: PropertyKey })[];
  message: string;
}

function issuesOf(cause: unknown): Issue[] | null {
  if (cause && typeof cause === 'object' && 'issues' in cause && Array.isArray(cause.issues)) return cause.issues as Issue[];
  return null;
}

export function describeIssues(issues: Issue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => {
      const path = (i.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

export interface MappedError {
  key: TRPC_ERROR_CODE_KEY;
  message: string;
  /** True when the cause was not an expected, user-facing error: worth logging in full. */
  unexpected: boolean;
}

export function mapError(error: { code: TRPC_ERROR_CODE_KEY; message: string; cause?: unknown }): MappedError {
  const cause = error.cause;
  // A driver or query-builder error never reaches a user, whatever code it was thrown with (an engine
  // error's own words pass, unless they quote a query).
  const quotesQuery = isDatabaseError({ message: cause instanceof Error ? cause.message : error.message });
  if (quotesQuery || (!(cause instanceof EngineError) && !(cause instanceof UserError) && isDatabaseError(cause ?? error))) {
    return { key: 'INTERNAL_SERVER_ERROR', message: GENERIC_MESSAGE, unexpected: true };
  }
  if (cause instanceof EngineError) return { key: ENGINE_CODES[cause.code], message: cause.message, unexpected: false };
  if (cause instanceof UserError) return { key: cause.code === 'INVALID' ? 'BAD_REQUEST' : cause.code, message: cause.message, unexpected: false };
  const issues = issuesOf(cause);
  if (error.code === 'BAD_REQUEST' && issues) return { key: 'BAD_REQUEST', message: `Invalid input: ${describeIssues(issues)}`, unexpected: false };
  if (error.code === 'INTERNAL_SERVER_ERROR') return { key: error.code, message: GENERIC_MESSAGE, unexpected: true };
  return { key: error.code, message: error.message, unexpected: false };
}

/** The id an unexpected error is logged under (the same for the log line and the client's message). */
export const errorIdOf = (error: { cause?: unknown }): string => errorIdFor(error.cause ?? error);

/** The client's error shape; an unexpected error's message carries the id of its log line. */
export function shapeFor(mapped: MappedError, path: string | undefined, errorId?: string) {
  return {
    message: errorId && mapped.unexpected ? `${mapped.message} (error id ${errorId})` : mapped.message,
    code: TRPC_ERROR_CODES_BY_KEY[mapped.key],
    data: { code: mapped.key, httpStatus: httpStatus(mapped.key), ...(path ? { path } : {}), ...(errorId && mapped.unexpected ? { errorId } : {}) },
  };
}
