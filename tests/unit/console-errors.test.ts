/** Pure pieces of the console's server side: error mapping, safe redirects, dashboard series, throttle delays. */
import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { safeCallbackPath } from '../../server/auth/config';
import { DEFAULT_POLICY, delayFor } from '../../server/auth/signin';
import { UserError } from '../../server/auth/users';
import { EngineError } from '../../server/engine/errors';
import type { BackupMetadata } from '../../server/engine/types';
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
  const b = (created: string, status: BackupMetadata['status'], size = 100, mbps = 10): BackupMetadata => ({
    backup_id: `b-${created}-${status}`, status, backup_type: 'full', security_level: 'standard', user_id: null, tags: [], retention_days: 1, priority: 5, metadata: {}, sources: [],
    original_size: size, stored_size: size, new_bytes: size, file_count: 1, shard_count: 1, new_shard_count: 1, compression_ratio: 1, dedup_ratio: 0, duration_seconds: 1,
    throughput_mbps: mbps, error: null, created_at: created, started_at: created, completed_at: status === 'completed' ? created : null, expires_at: null,
    suspicious: false, suspicious_acknowledged_at: null, suspicious_acknowledged_by: null, change_summary: null,
  });
  it('counts windows and buckets by day', () => {
    const s = dashboardSeries([b('2026-01-15T11:00:00Z', 'completed', 300), b('2026-01-15T10:00:00Z', 'failed'), b('2026-01-10T10:00:00Z', 'completed'), b('2025-12-01T10:00:00Z', 'completed')], now);
    expect(s.last24h).toEqual({ total: 2, completed: 1, failed: 1, success_rate: 0.5, bytes: 300 });
    expect(s.last7d).toMatchObject({ total: 3, completed: 2, failed: 1 });
    expect(s.perDay).toHaveLength(14);
    expect(s.perDay.at(-1)).toEqual({ day: '2026-01-15', completed: 1, failed: 1, bytes: 300 });
    expect(s.throughput.map((p) => p.at)).toEqual(['2026-01-10T10:00:00Z', '2026-01-15T11:00:00Z']);
  });
});
