/** Pure pieces of the console's server side: error mapping, safe redirects, dashboard series, throttle delays. */
import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { safeCallbackPath } from '../../server/auth/config';
import { DEFAULT_POLICY, delayFor } from '../../server/auth/signin';
import { UserError } from '../../server/auth/users';
import { EngineError } from '../../server/engine/errors';
import type { BackupSeries } from '../../server/engine/catalog/backup-series';
import { GENERIC_MESSAGE, mapError, shapeFor } from '../../server/trpc/errors';
import { dashboardSeries } from '../../server/trpc/lib/dashboard';

const wrap = (cause: unknown, code: TRPCError['code'] = 'INTERNAL_SERVER_ERROR') => new TRPCError({ code, cause, message: cause instanceof Error ? cause.message : 'x' });

describe('error mapping', () => {
  it('maps engine errors to tRPC codes and keeps their words', () => {
    const cases = [
      ['NOT_FOUND', 'NOT_FOUND', 404],
      ['INVALID', 'BAD_REQUEST', 400],
      ['CONFLICT', 'CONFLICT', 409],
      ['INTEGRITY', 'PRECONDITION_FAILED', 412],
      ['FORBIDDEN', 'FORBIDDEN', 403],
      ['UNAVAILABLE', 'INTERNAL_SERVER_ERROR', 500],
    ] as const;
    for (const [engine, trpc, http] of cases) {
      const m = mapError(wrap(new EngineError(engine, `engine says ${engine}`)));
      expect(m).toEqual({ key: trpc, message: `engine says ${engine}`, unexpected: false });
      expect(shapeFor(m, 'backup.get').data).toEqual({ code: trpc, httpStatus: http, path: 'backup.get' });
    }
    expect(mapError(wrap(new UserError('CONFLICT', 'exists')))).toMatchObject({ key: 'CONFLICT', message: 'exists' });
  });

  it('recognises an engine error from another copy of the engine module (the console bundles it twice)', () => {
    // What an EngineError made by the instrumentation bundle's class looks like to the route handler's copy.
    const foreign = Object.assign(new Error('The escrow key must be an RSA public key of at least 3072 bits'), { name: 'EngineError', code: 'INVALID', [Symbol.for('plexichat.EngineError')]: true });
    expect(foreign instanceof EngineError).toBe(true);
    expect(mapError(wrap(foreign))).toEqual({ key: 'BAD_REQUEST', message: 'The escrow key must be an RSA public key of at least 3072 bits', unexpected: false });
    expect(new Error('plain') instanceof EngineError).toBe(false);
  });

  it('hides unexpected errors and makes validation errors readable', () => {
    expect(mapError(wrap(new Error('relation "users" does not exist; password_hash=...')))).toEqual({ key: 'INTERNAL_SERVER_ERROR', message: GENERIC_MESSAGE, unexpected: true });
    const zodLike = { issues: [{ path: ['source', 'paths'], message: 'give at least one path' }] };
    expect(mapError(wrap(zodLike, 'BAD_REQUEST')).message).toBe('Invalid input: source.paths: give at least one path');
    expect(mapError(new TRPCError({ code: 'FORBIDDEN', message: 'no' }))).toMatchObject({ key: 'FORBIDDEN', message: 'no' });
  });
});

describe('safeCallbackPath', () => {
  it('keeps same-site paths and refuses everything else', () => {
    expect(safeCallbackPath('/backups/backup_1?x=1')).toBe('/backups/backup_1?x=1');
    for (const bad of ['https://evil.example', '//evil.example', '/\\evil', '/login?callbackUrl=/x', '/api/trpc/x', undefined, 42]) expect(safeCallbackPath(bad)).toBe('/');
  });
});

describe('throttle', () => {
  it('waits nothing at first, then doubles up to the cap', () => {
    expect([0, 1, 2, 3, 4, 5, 9].map((n) => delayFor(n, DEFAULT_POLICY))).toEqual([0, 0, 500, 1000, 2000, 4000, 4000]);
  });
});

describe('dashboardSeries', () => {
  const now = new Date('2026-01-15T12:00:00Z');
  // What the catalog's aggregates (engine backupSeries) say about the last 14 days.
  const series: BackupSeries = {
    days: [
      { day: '2026-01-10', completed: 1, failed: 0, bytes: 100 },
      { day: '2026-01-15', completed: 1, failed: 1, bytes: 300 },
    ],
    last24h: { total: 2, completed: 1, failed: 1, bytes: 300 },
    last7d: { total: 3, completed: 2, failed: 1, bytes: 400 },
    throughput: [{ at: '2026-01-10T10:00:00.000Z', backup_id: 'b1', mbps: 10, bytes: 100 }],
  };
  it('puts the aggregates in 14 day buckets and rates the windows', () => {
    const s = dashboardSeries(series, now);
    expect(s.last24h).toEqual({ total: 2, completed: 1, failed: 1, success_rate: 0.5, bytes: 300 });
    expect(s.last7d).toMatchObject({ total: 3, completed: 2, failed: 1, success_rate: 2 / 3 });
    expect(s.perDay).toHaveLength(14);
    expect(s.perDay[0]!.day).toBe('2026-01-02');
    expect(s.perDay.at(-1)).toEqual({ day: '2026-01-15', completed: 1, failed: 1, bytes: 300 });
    expect(s.perDay.filter((d) => d.completed || d.failed).map((d) => d.day)).toEqual(['2026-01-10', '2026-01-15']);
    expect(s.throughput).toBe(series.throughput);
  });
  it('counts scheduled runs that failed before a backup existed as failures of their day and windows', () => {
    const s = dashboardSeries(series, now, 14, ['2026-01-15T06:00:00.000Z', '2026-01-12T06:00:00.000Z', '2025-12-01T06:00:00.000Z']);
    expect(s.last24h).toMatchObject({ failed: 2, success_rate: 1 / 3 });
    expect(s.last7d).toMatchObject({ failed: 3, success_rate: 2 / 5 });
    expect(s.perDay.find((d) => d.day === '2026-01-12')).toMatchObject({ failed: 1 });
    expect(s.perDay.reduce((n, d) => n + d.failed, 0)).toBe(3);
  });
});
