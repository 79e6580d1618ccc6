/**
 * Walks every procedure of the router × every role and checks the outcome against the permission matrix.
 * A procedure without a matrix entry is refused for everyone, so adding one without an entry fails here.
 */
import { TRPCError } from '@trpc/server';
import { describe, expect, it } from 'vitest';
import { ROLES, type Role } from '../../db/schema';
import type { PublicUser } from '../../server/auth/users';
import { PathPolicy } from '../../server/engine/path-policy';
import type { BackupMetadata, BackupProgress, BackupStatistics } from '../../server/engine/types';
import type { Context } from '../../server/trpc/context';
import { createCallerFactory } from '../../server/trpc/init';
import { ACTIONS, can, PROCEDURE_ACTIONS, ROLE_ACTIONS } from '../../server/trpc/permissions';
import { appRouter } from '../../server/trpc/root';
import type { LocationsApi } from '../../server/trpc/routers/storage/locations-api';
import type { EngineApi, Services } from '../../server/trpc/services/types';
import type { AlertsApi } from '../../server/trpc/routers/alerts/api';
import type { SchedulesApi } from '../../server/trpc/routers/schedules/api';
import type { RestoreJobView } from '../../server/engine/restore/restore-jobs';

const now = new Date().toISOString();
const backup: BackupMetadata = {
  backup_id: 'b1', status: 'completed', backup_type: 'full', security_level: 'standard', user_id: 'a@x.io', tags: [], retention_days: 90, priority: 5,
  metadata: {}, sources: ['/src'], original_size: 10, stored_size: 8, new_bytes: 8, file_count: 1, shard_count: 1, new_shard_count: 1,
  compression_ratio: 1, dedup_ratio: 0, duration_seconds: 1, throughput_mbps: 1, error: null, created_at: now, started_at: now, completed_at: now, expires_at: null,
    suspicious: false, suspicious_acknowledged_at: null, suspicious_acknowledged_by: null, change_summary: null,
};
const progress: BackupProgress = { backup_id: 'b1', status: 'completed', phase: 'done', bytes_done: 10, bytes_total: 10, files_done: 1, files_total: 1, shards_done: 1, throughput_mbps: 1, eta_seconds: 0, percent: 100, updated_at: now };
const restoreJob: RestoreJobView = {
  restore_id: 'restore_1', backup_id: 'b1', status: 'completed', actor: 'a@x.io', via: 'console', target: '/t', options: {}, created_at: now, started_at: now, finished_at: now, claimed_by: null,
  progress: { bytes_done: 10, bytes_total: 10, files_done: 1, files_total: 1, percent: 100, throughput_mbps: 1, eta_seconds: null }, result: null, error: null,
};
const user: PublicUser = { id: 'u1', email: 'v@x.io', name: null, role: 'viewer', disabled: false, lockedUntil: null, createdAt: now, lastLoginAt: null };

const location = { name: 'c1', type: 'local', source: 'console', priority: 10, region: 'local', where: '/tmp/c1', max_size_gb: null, enabled: true, settings: { path: '/tmp/c1' }, active: false, free_bytes: null, total_bytes: null } as const;
const locations: LocationsApi = {
  list: async () => [location],
  add: async () => location,
  update: async () => location,
  setEnabled: async () => undefined,
  test: async () => ({ ok: true, latency_ms: 1, error: null }),
};

const schedule = { id: 's1', name: 'nightly', cron: '0 3 * * *', timezone: 'UTC', paths: ['/src'], backup_type: 'full', security_level: null, tags: [], retention_days: null, priority: 5, paused: false, delay_seconds: null, watcher: null, next_run: now, last_run: null, created_at: now };
const schedulesStub: SchedulesApi = {
  list: async () => [schedule],
  preview: async () => ({ ok: true, runs: [now] }),
  create: async () => schedule,
  update: async () => schedule,
  setPaused: async () => schedule,
  remove: async () => undefined,
  runNow: async () => ({ name: 'nightly', run_id: 1, queued_at: now }),
};
const alert = { id: 'a1', rule: 'verify_unhealthy', subject_key: 'verify:b1', severity: 'critical' as const, state: 'open' as const, message: 'm', link: 'http://x/backups/b1', details: {}, opened_at: now, last_seen_at: now, acknowledged_at: null, acknowledged_by: null, resolved_at: null };
const alertsStub = {
  list: async () => [alert],
  get: async () => alert,
  acknowledge: async () => alert,
  settings: async () => ({}),
  updateSettings: async () => ({}),
  resetSettings: async () => ({}),
  sendTest: async () => [],
  report: async () => ({}),
  metrics: async () => ({ latest: [], series: [] }),
  history: async () => [{ at: now, warning: 0, critical: 1 }],
} as unknown as AlertsApi;

function stubEngine(audits: { action: string; outcome?: string }[] = []): EngineApi {
  return {
    startBackup: async () => ({ backup_id: 'b1', done: Promise.resolve(backup) }),
    listBackups: async () => [backup],
    countBackups: async () => 1,
    backupSeries: async () => ({ days: [], last24h: { total: 0, completed: 0, failed: 0, bytes: 0 }, last7d: { total: 0, completed: 0, failed: 0, bytes: 0 }, throughput: [] }),
    getBackup: async () => backup,
    getBackupProgress: async () => progress,
    verifyBackup: async () => ({ backup_id: 'b1', status: 'healthy', all_shards_valid: true, shards_checked: 1, replicas_checked: 2, read_data: true, bad_shards: [], lost_shards: [], affected_files: [], checked_at: now }),
    repairBackup: async () => ({ backup_id: 'b1', repaired: [], unrepairable: [], status: 'healthy' }),
    restoreBackup: async () => ({ backup_id: 'b1', target: '/t', files_restored: 1, bytes_restored: 10, duration_seconds: 1, throughput_mbps: 1 }),
    enqueueRestore: async () => ({ ...restoreJob, status: 'queued' }),
    claimRestores: async () => [],
    startRestoreHere: async () => ({ job: restoreJob, done: new Promise(() => undefined) }),
    getRestoreJob: async () => restoreJob,
    listRestoreJobs: async () => ({ jobs: [restoreJob], total: 1 }),
    deleteBackup: async () => true,
    deleteBackupReport: async () => ({ deleted: true, kept_locked: [] }),
    acknowledgeSuspicious: async () => ({ ...backup, suspicious: true, suspicious_acknowledged_at: now, suspicious_acknowledged_by: 'a@x.io' }),
    getShardMap: async () => [{ shard_id: 's1', kind: 'data', plain_size: 10, stored_size: 8, compression: 'zstd', coding: null, replicas: [{ location: 'a', state: 'ok', piece: null }] }],
    getStatistics: async () => ({ total_backups: 1, completed_backups: 1, failed_backups: 0, running_backups: 0, total_original_bytes: 10, total_stored_bytes: 8, unique_shards: 1, average_compression_ratio: 1, average_dedup_ratio: 0, average_backup_seconds: 1, backup_throughput_mbps: 1, success_rate: 1 }) as unknown as BackupStatistics,
    getStorageUsage: async () => [{ name: 'a', type: 'local', region: 'local', where: '/srv/a', priority: 10, backups: 1, used_bytes: 8, objects: 1, capacity_bytes: null, capacity_source: null, free_bytes: null, total_bytes: null, usage_percentage: null, healthy: true }],
    getStorageHealth: async () => [{ name: 'a', type: 'local', reachable: true, latency_ms: 1, error_rate: 0, last_error: null, checked_at: now }],
    listBackupFiles: async () => ({ entries: [{ path: 'a.txt', type: 'file', size: 1, mtime: now, mode: 0o644 }], total: 1 }),
    readBackupFile: async () => ({ entry: { path: 'a.txt', type: 'file', size: 1, mtime: now, mode: 0o644 }, bytes: (async function* () {})() }),
    optimizeStorage: async () => ({ shards_checked: 1, copies_added: 0, copies_removed: 0, moves: [], problems: [], dry_run: true, bytes_copied: 0, budget_bytes: null, shards_left: 0, bytes_left: 0 }),
    sweepOrphans: async () => ({ dry_run: true, grace_hours: 24, previous_mark: null, new_mark: null, locations: [], shards: { marked: { shards: 0, objects: 0, bytes: 0 }, deleted: { shards: 0, objects: 0, bytes: 0 }, kept: { shards: 0, objects: 0, bytes: 0, reasons: {} }, objects_left: 0, objects_locked: [] }, totals: { marked: { objects: 0, bytes: 0 }, deleted: { objects: 0, bytes: 0 }, kept: { objects: 0, bytes: 0 } }, released: { deleted: 0, kept: 0, kept_objects: [], problems: [] }, problems: [] }),
    keyStatus: async () => ({ master_key: 'mk-1', previous_keys: [], source: 'file', last_rotation: null, key_age_days: 1, key_rotation_days: 30, rotation_due: false, rotation_unfinished: false, data_keys_by_master: {} }),
    exportKeyEscrow: async () => ({ format: 'plexichat-key-escrow', version: 1, created_at: now, repo_id: 'r', master_keys: ['mk-1'], algorithm: 'RSA-OAEP-SHA256/AES-256-GCM', recipient: 'x', wrapped_key: '', nonce: '', ciphertext: '' }),
    audit: async (e) => void audits.push({ action: e.action, outcome: e.outcome }),
    runDrill: async () => ({ drill_id: 'd1', backup_id: 'b1', sources: ['/src'], status: 'passed', sample_percent: 100, seed: null, started_at: now, finished_at: now, measured_seconds: 1, rto_seconds: 1, files_checked: 1, bytes_checked: 10, files_total: 1, bytes_total: 10, method: 'sha256', note: null, error: null }),
    listDrills: async () => [],
  };
}

function stubServices(audits: { action: string; outcome?: string }[] = []): Services {
  const engine = stubEngine(audits);
  const services: Services & { locations: () => Promise<LocationsApi>; schedules: () => Promise<SchedulesApi>; alerts: () => Promise<AlertsApi>; pathPolicy: () => Promise<PathPolicy> } = {
    locations: async () => locations,
    schedules: async () => schedulesStub,
    alerts: async () => alertsStub,
    engine: async () => engine,
    // The stub engine has no installation: a policy that lets the sample paths through (tests/security covers the rules).
    pathPolicy: async () => new PathPolicy({ allowedBackupPaths: ['/'], allowedRestorePaths: ['/tmp'], protectedPaths: async () => [] }),
    users: async () => ({ list: async () => [user], create: async () => user, setRole: async () => user, setDisabled: async () => user, unlock: async () => user, setPassword: async () => user, remove: async () => user }),
    audit: async () => ({ list: async () => ({ events: [], total: 0 }) }),
  };
  return services;
}

/** A valid input for each procedure, so that every allowed call succeeds. */
const SAMPLE_INPUT: Record<string, unknown> = {
  'backup.create': { source: { kind: 'text', text: 'hello' } },
  'backup.list': { status: 'completed' },
  'backup.get': { backupId: 'b1' },
  'backup.progress': { backupId: 'b1' },
  'backup.shardMap': { backupId: 'b1' },
  'backup.files': { backupId: 'b1', filter: 'a' },
  'backup.verify': { backupId: 'b1' },
  'backup.repair': { backupId: 'b1' },
  'backup.recover': { backupId: 'b1', target: '/tmp/restore', from: '2024-01-01', to: '2024-12-31' },
  'backup.restoreProgress': { restoreId: 'restore_1' },
  'restores.get': { restoreId: 'restore_1' },
  'restores.list': { backupId: 'b1' },
  'backup.delete': { backupId: 'b1' },
  'backup.acknowledge': { backupId: 'b1' },
  'users.create': { email: 'new@x.io', password: 'long enough password', role: 'viewer' },
  'users.setRole': { userId: 'u1', role: 'operator' },
  'users.disable': { userId: 'u1' },
  'users.unlock': { userId: 'u1' },
  'users.resetPassword': { userId: 'u1', password: 'long enough password' },
  'users.delete': { userId: 'u1' },
  'audit.list': { limit: 10 },
  'storage.addLocation': { name: 'c1', type: 'local', path: '/tmp/c1' },
  'storage.updateLocation': { name: 'c1', patch: { priority: 5 } },
  'storage.testLocation': { name: 'c1' },
  'storage.disableLocation': { name: 'c1' },
  'storage.optimize': { dryRun: true },
  'storage.gc': { dryRun: false },
  'schedules.preview': { cron: '0 3 * * *' },
  'schedules.create': { name: 'nightly', cron: '0 3 * * *', paths: ['/src'] },
  'schedules.update': { name: 'nightly', schedule: { name: 'nightly', cron: '0 4 * * *', paths: ['/src'] } },
  'schedules.pause': { name: 'nightly' },
  'schedules.resume': { name: 'nightly' },
  'schedules.remove': { name: 'nightly' },
  'schedules.runNow': { name: 'nightly' },
  'alerts.list': { states: ['open'] },
  'alerts.get': { alertId: 'a1' },
  'alerts.history': { hours: 24 },
  'alerts.acknowledge': { alertId: 'a1' },
  'alerts.updateSettings': { slack: { enabled: true, webhook_url: 'https://hooks.example.com/T/B/x' }, thresholds: { storage_usage_warning: 70 } },
  'keys.escrow': { publicKeyPem: `-----BEGIN PUBLIC KEY-----\n${'A'.repeat(120)}\n-----END PUBLIC KEY-----` },
  'reports.health': { days: 7 },
  'reports.metrics': { name: 'storage_usage_percent', hours: 24 },
  'drills.run': { backupId: 'b1', samplePercent: 10 },
  'drills.list': { limit: 10 },
};

const procedurePaths = Object.keys(appRouter._def.procedures).sort();
const createCaller = createCallerFactory(appRouter);

function call(ctx: Context, path: string): Promise<unknown> {
  const caller: unknown = createCaller(ctx);
  const fn = path.split('.').reduce<unknown>((o, key) => (o as Record<string, unknown>)[key], caller) as (input: unknown) => Promise<unknown>;
  return fn(SAMPLE_INPUT[path]);
}

const ctxFor = (role: Role | null, services = stubServices()): Context => ({
  user: role ? { id: `id-${role}`, email: `${role}@x.io`, name: null, role } : null,
  services,
});

describe('permission matrix', () => {
  it('has an entry for every procedure, and no entry without a procedure', () => {
    expect(procedurePaths.length).toBeGreaterThan(10);
    expect(procedurePaths.filter((p) => !(p in PROCEDURE_ACTIONS))).toEqual([]);
    expect(Object.keys(PROCEDURE_ACTIONS).filter((p) => !procedurePaths.includes(p))).toEqual([]);
  });

  it('follows the spec: admin ⊇ operator ⊇ viewer; only admins delete, manage users and read the audit log', () => {
    expect([...ROLE_ACTIONS.admin].sort()).toEqual([...ACTIONS].sort());
    for (const a of ROLE_ACTIONS.viewer) expect(ROLE_ACTIONS.operator).toContain(a);
    for (const a of ROLE_ACTIONS.operator) expect(ROLE_ACTIONS.admin).toContain(a);
    expect(ROLE_ACTIONS.viewer).toEqual(['view']);
    for (const p of ['backup.delete', 'backup.acknowledge', 'storage.optimize', 'storage.gc', 'storage.listLocations', 'storage.addLocation', 'storage.updateLocation', 'storage.testLocation', 'storage.disableLocation', 'users.create', 'users.setRole', 'users.disable', 'users.list', 'audit.list']) {
      expect([can('admin', p), can('operator', p), can('viewer', p)]).toEqual([true, false, false]);
    }
    for (const p of ['backup.create', 'backup.recover']) expect([can('admin', p), can('operator', p), can('viewer', p)]).toEqual([true, true, false]);
    // Operators manage schedules and acknowledge alerts; only admins configure channels and send test alerts.
    for (const p of ['schedules.create', 'schedules.pause', 'schedules.runNow', 'alerts.acknowledge']) expect([can('admin', p), can('operator', p), can('viewer', p)]).toEqual([true, true, false]);
    for (const p of ['alerts.settings', 'alerts.updateSettings', 'alerts.resetSettings', 'alerts.sendTest', 'keys.status', 'keys.escrow']) expect([can('admin', p), can('operator', p), can('viewer', p)]).toEqual([true, false, false]);
    for (const p of ['schedules.list', 'alerts.list', 'alerts.get', 'alerts.history', 'reports.health']) expect([can('admin', p), can('operator', p), can('viewer', p)]).toEqual([true, true, true]);
    expect(can('admin', 'backup.somethingNew')).toBe(false);
  });

  it('has a sample input for every procedure that takes one', () => {
    const noInput = new Set(['auth.me', 'storage.usage', 'storage.health', 'storage.listLocations', 'stats.get', 'users.list', 'schedules.list', 'alerts.settings', 'alerts.resetSettings', 'alerts.sendTest', 'keys.status']);
    expect(procedurePaths.filter((p) => !noInput.has(p) && !(p in SAMPLE_INPUT))).toEqual([]);
  });

  describe.each(procedurePaths)('%s', (path) => {
    it('refuses a caller who is not signed in', async () => {
      await expect(call(ctxFor(null), path)).rejects.toMatchObject({ code: 'UNAUTHORIZED' });
    });

    it.each([...ROLES])('as %s: matches the matrix', async (role) => {
      const result = call(ctxFor(role), path);
      if (can(role, path)) await expect(result).resolves.not.toBeInstanceOf(TRPCError);
      else await expect(result).rejects.toMatchObject({ code: 'FORBIDDEN' });
    });
  });

  it('audits a refused mutation', async () => {
    const audits: { action: string; outcome?: string }[] = [];
    await expect(call(ctxFor('viewer', stubServices(audits)), 'backup.delete')).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await new Promise((r) => setTimeout(r, 10));
    expect(audits).toEqual([{ action: 'backup.delete', outcome: 'denied' }]);
  });
});
