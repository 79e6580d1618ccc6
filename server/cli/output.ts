/**
 * CLI output: one JSON document with --json, readable lines otherwise; errors mapped to exit codes and to
 * words once. A database or query-builder error is never printed as is (it may quote SQL and its
 * parameters): the user gets a sentence and an id, and the details go to stderr under that id only with
 * PLEXICHAT_DEBUG=1.
 */
import { ConfigError } from '../config';
import { EngineError } from '../engine/errors';
import { errorDetails, errorIdFor, isDatabaseError } from '../http/safe-errors';

export const EXIT = { ok: 0, failure: 1, usage: 2, integrity: 3, notFound: 4, unavailable: 5, conflict: 6 } as const;

/** The largest whole-number option a command takes (--limit, --offset, --retention-days …). */
export const MAX_INT_OPT = 1_000_000_000;

export class UsageError extends Error {}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError || err instanceof ConfigError) return EXIT.usage;
  if (err instanceof EngineError) {
    switch (err.code) {
      case 'INVALID':
        return EXIT.usage;
      case 'NOT_FOUND':
        return EXIT.notFound;
      case 'INTEGRITY':
        return EXIT.integrity;
      case 'UNAVAILABLE':
        return EXIT.unavailable;
      case 'CONFLICT':
        return EXIT.conflict;
      case 'FORBIDDEN':
        return EXIT.failure;
    }
  }
  return EXIT.failure;
}

const debugging = () => process.env.PLEXICHAT_DEBUG === '1' || process.env.PLEXICHAT_DEBUG === 'true';
const shown = new Set<string>();

/** What the user reads about an error: its own words, unless the database said them. */
export function errorMessage(err: unknown): string {
  const own = err instanceof EngineError || err instanceof UsageError || err instanceof ConfigError;
  const message = err instanceof Error ? err.message : String(err);
  if (!isDatabaseError(err) && !(own && isDatabaseError({ message }))) return message;
  const id = errorIdFor(err);
  if (debugging() && !shown.has(id) && shown.add(id)) process.stderr.write(`[error ${id}] ${errorDetails(err)}\n`);
  return `The catalog database could not complete the request (error id ${id}); run again with PLEXICHAT_DEBUG=1 for the details.`;
}

export function errorDocument(err: unknown): Record<string, unknown> {
  const code = err instanceof EngineError ? err.code : err instanceof UsageError || err instanceof ConfigError ? 'INVALID' : 'INTERNAL';
  // without_hint / console_hint / needs_overwrite are the console's wording aids, not facts about the failure.
  const { without_hint: _w, console_hint: _c, needs_overwrite: _n, ...details } = err instanceof EngineError ? err.details : {};
  return { error: { code, message: errorMessage(err), ...details } };
}

export function printJson(doc: unknown): void {
  process.stdout.write(`${JSON.stringify(doc, null, 2)}\n`);
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** A one-line live progress bar on stderr, only when stderr is a terminal. */
export class ProgressBar {
  private readonly enabled = Boolean(process.stderr.isTTY);
  private last = 0;

  update(p: { bytesDone: number; bytesTotal: number; filesDone: number; filesTotal: number; mbps: number; eta: number | null }): void {
    if (!this.enabled || Date.now() - this.last < 100) return;
    this.last = Date.now();
    const frac = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 0;
    const width = 24;
    const bar = '█'.repeat(Math.round(frac * width)).padEnd(width, '░');
    const eta = p.eta === null ? '--' : `${Math.floor(p.eta / 60)}m${String(Math.round(p.eta % 60)).padStart(2, '0')}s`;
    process.stderr.write(
      `\r${bar} ${(frac * 100).toFixed(1).padStart(5)}%  ${formatBytes(p.bytesDone)}/${formatBytes(p.bytesTotal)}  ${p.filesDone}/${p.filesTotal} files  ${p.mbps.toFixed(1)} MB/s  ETA ${eta}   `,
    );
  }

  done(): void {
    if (this.enabled && this.last) process.stderr.write('\n');
  }
}
