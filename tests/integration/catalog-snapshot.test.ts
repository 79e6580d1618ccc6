/**
 * A catalog that survives its own loss: users, schedules, alert settings, a console-added location (with its
 * credential) and the audit history are written to storage as catalog snapshots; with the catalog and the
 * config file's other locations forgotten, `recover-catalog` from one surviving location brings them back,
 * finds the other locations through the snapshot, reconciles backups made after it, and refuses a tampered
 * snapshot (falling back to the previous one, reported).
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { auditEvents, restoreDrills, restoreJobs, schedules, users } from '../../db/schema';
import { verifyPassword } from '../../server/auth/password';
import { createUser } from '../../server/auth/users';
import { createSchedule } from '../../server/jobs/schedule-store';
import type { RecoverReport } from '../../server/engine/maintenance/recover-catalog';
import { LocationStore } from '../../server/engine/storage/location-store';
import { alertSettings } from '../../server/monitoring/alert-settings';
import { loadStoredAlertSettings, saveAlertSettings } from '../../server/monitoring/alert-settings-store';
import { runCli } from '../support/cli';
import { treeDiff } from '../support/compare';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const ADMIN_PW = 'admin-password-1';
const OPERATOR_PW = 'operator-password-1';
const SLACK = 'https://hooks.example.test/services/T000/B000/slack-secret';
const VAULT_CREDENTIAL = 'vault-credential-7f3a';

async function catalogObjects(root: string): Promise<string[]> {
  return (await readdir(path.join(root, 'catalog')).catch(() => [] as string[])).sort();
}

describe.each(CATALOG_MODES)('catalog snapshots (%s catalog)', (mode) => {
  const envs: TestEnv[] = [];
  afterAll(async () => Promise.all(envs.map((e) => e.cleanup())));

  it('recover-catalog brings back users, schedules, alert settings, locations and audit history; a tampered snapshot is refused', async () => {
    const a = await makeEnv(mode);
    envs.push(a);
    const store = (n: string) => path.join(a.dir, 'storage', n);
    // local-a is the least preferred: data and keys land on vault and local-b, local-a holds the snapshots.
    const configured = [
      { name: 'local-a', type: 'local', path: store('local-a'), priority: 20 },
      { name: 'local-b', type: 'local', path: store('local-b'), priority: 10 },
    ];
    await writeFile(a.env.PLEXICHAT_CONFIG!, JSON.stringify({ storage_locations: configured, replication_factor: 2 }));
    const src = path.join(a.dir, 'src');
    await makeTree(src, { seed: 5, smallFiles: 60, bigFiles: [3 * 1024 * 1024] });

    // The installation as an admin would have set it up.
    const e1 = await a.open();
    const db = e1.catalog.db;
    await createUser(db, { email: 'admin@example.test', password: ADMIN_PW, role: 'admin' }, { actor: 'cli:test' });
    await createUser(db, { email: 'ops@example.test', password: OPERATOR_PW, role: 'operator' }, { actor: 'admin@example.test' });
    await createSchedule(db, { name: 'nightly', cron: '0 2 * * *', paths: [src], backupType: 'incremental' }, new Date());
    await e1.audit({ actor: 'admin@example.test', action: 'schedule.create', target: 'nightly' });
    const [master] = await e1.secretKeys();
    await saveAlertSettings(db, master!, alertSettings({ alerts: {}, alert_thresholds: {} }), { slack: { enabled: true, webhook_url: SLACK }, thresholds: { storage_usage_warning: 70 } }, 'admin@example.test');
    await e1.audit({ actor: 'admin@example.test', action: 'alert.settings.update' });
    // Added in the console: preferred (priority 5), so data lands there; only the catalog knows it exists.
    await LocationStore.forInstallation(e1).add({ name: 'vault', type: 'local', path: store('vault'), priority: 5, secret_access_key: VAULT_CREDENTIAL });
    await e1.audit({ actor: 'admin@example.test', action: 'storage.addLocation', target: 'vault' });
    await e1.refreshLocations(true);
    await e1.audit({ actor: 'ops@example.test', action: 'backup.verify', target: 'before-snapshot' });
    // Drill history: one that passed, one still running when the snapshot is taken (its process may die with the catalog).
    const drillAt = new Date('2026-11-01T03:00:00Z');
    await db.insert(restoreDrills).values([
      { id: 'drill-passed', backupId: 'b-old', sources: [src], status: 'passed', startedAt: drillAt, finishedAt: new Date(drillAt.getTime() + 9000), measuredSeconds: 9, rtoSeconds: 9, filesChecked: 60, bytesChecked: 1234 },
      { id: 'drill-running', backupId: 'b-old', sources: [src], status: 'running', startedAt: new Date(drillAt.getTime() + 60_000) },
    ]);
    // Restore history: one that completed, one queued and one running (a live owner, so nothing reaps it first) at snapshot time.
    const job = { backupId: 'b-old', actor: 'ops@example.test', actorRole: 'operator', via: 'console', target: path.join(a.dir, 'restored') };
    await db.insert(restoreJobs).values([
      { ...job, id: 'restore-done', status: 'completed', createdAt: drillAt, startedAt: drillAt, finishedAt: new Date(drillAt.getTime() + 4000), filesRestored: 60, filesLost: 0, bytesRestored: 1234, durationMs: 4000 },
      { ...job, id: 'restore-queued', status: 'queued', createdAt: new Date(drillAt.getTime() + 1000) },
      { ...job, id: 'restore-running', status: 'running', createdAt: new Date(drillAt.getTime() + 2000), startedAt: new Date(drillAt.getTime() + 2000), claimedBy: `${hostname()}:${process.pid}:test`, ownerPid: process.pid, ownerHost: hostname(), heartbeatAt: new Date(Date.now() + 3600_000) },
    ]);
    const one = await e1.createBackup({ paths: [src], tags: ['one'] });
    await e1.close();
    // The backup's end wrote a snapshot to every location, the config file's and the console's.
    const first = await catalogObjects(store('local-a'));
    expect(first).toHaveLength(1);
    expect(await catalogObjects(store('vault'))).toEqual(first);
    const plain = await readFile(path.join(store('local-a'), 'catalog', first[0]!));
    expect(plain.includes(Buffer.from('admin@example.test'))).toBe(false);

    // Later changes: a user and a backup. Closing (as a CLI command does) writes a newer snapshot...
    const e2 = await a.open();
    await createUser(e2.catalog.db, { email: 'late@example.test', password: 'late-password-1', role: 'viewer' });
    await writeFile(path.join(src, 'added-later.txt'), 'after the first snapshot');
    const two = await e2.createBackup({ paths: [src], tags: ['two'] });
    await e2.close();
    const second = await catalogObjects(store('local-a'));
    expect(second).toHaveLength(2);
    const newest = second.find((n) => !first.includes(n))!;
    // ...which someone with write access to the buckets (no master key) tampers with, everywhere.
    for (const loc of ['local-a', 'local-b', 'vault']) {
      const f = path.join(store(loc), 'catalog', newest);
      const bytes = await readFile(f);
      const i = Math.floor(bytes.length / 2);
      bytes[i] = bytes[i]! ^ 0xff;
      await writeFile(f, bytes);
    }

    // The catalog is lost, and so is the config file: the new installation knows only local-a (so one replica).
    if (mode === 'embedded') await rm(a.env.PLEXICHAT_DATA_DIR!, { recursive: true, force: true });
    const b = await makeEnv(mode, { storage_locations: [configured[0]], replication_factor: 1 }, { PLEXICHAT_ENCRYPTION_KEY: a.env.PLEXICHAT_ENCRYPTION_KEY });
    envs.push(b);
    const rec = await runCli(['recover-catalog', '--json'], b.env);
    const r = rec.json as RecoverReport;
    expect(r, rec.stderr).toBeDefined();
    expect(rec.code, rec.stderr).toBe(3); // a refused snapshot is an integrity problem
    const cs = r.catalog_snapshot;
    expect(cs.used).toBe(`catalog/${first[0]}`);
    expect(cs.rejected).toEqual([expect.objectContaining({ object: `local-a:catalog/${newest}`, reason: expect.stringMatching(/checksum|decryption/) })]);
    expect(cs.restored).toMatchObject({ users: 2, schedules: 1, locations: 2, restore_drills: 2, restore_jobs: 3 });
    expect(cs.locations.sort()).toEqual(['local-b', 'vault']);
    // Both backups, the one after the snapshot included, from storage — their keys and data are only on local-b and vault.
    expect(r).toMatchObject({ backups: 2, damaged_backups: [], skipped_backups: [], incomplete_locations: [] });

    const eb = await b.open();
    const bdb = eb.catalog.db;
    const drills = await bdb.select().from(restoreDrills).orderBy(restoreDrills.startedAt);
    expect(drills.map((d) => [d.id, d.status, d.rtoSeconds])).toEqual([['drill-passed', 'passed', 9], ['drill-running', 'failed', null]]);
    expect(drills[1]!.error).toMatch(/interrupted/);
    const jobs = await bdb.select().from(restoreJobs).orderBy(restoreJobs.createdAt);
    expect(jobs.map((j) => [j.id, j.status, j.filesRestored])).toEqual([['restore-done', 'completed', 60], ['restore-queued', 'failed', null], ['restore-running', 'failed', null]]);
    expect(jobs[0]!.error).toBeNull();
    for (const j of jobs.slice(1)) {
      expect(j.error).toBe('interrupted: the catalog was lost while this restore ran');
      expect([j.claimedBy, j.ownerPid, j.ownerHost, j.heartbeatAt]).toEqual([null, null, null, null]);
    }
    const u = await bdb.select().from(users);
    expect(u.map((x) => x.email).sort()).toEqual(['admin@example.test', 'ops@example.test']);
    expect(await verifyPassword(u.find((x) => x.role === 'admin')!.passwordHash, ADMIN_PW)).toBe(true);
    expect(await verifyPassword(u.find((x) => x.role === 'operator')!.passwordHash, OPERATOR_PW)).toBe(true);
    expect((await bdb.select().from(schedules)).map((s) => [s.name, s.cron, s.paths])).toEqual([['nightly', '0 2 * * *', [src]]]);
    const alerts = await loadStoredAlertSettings(bdb, () => [master!]);
    expect(alerts?.settings).toMatchObject({ slack: { enabled: true, webhook_url: SLACK }, thresholds: { storage_usage_warning: 70 } });
    const locs = await LocationStore.forInstallation(eb).configs();
    expect(locs.find((l) => l.name === 'vault')).toMatchObject({ type: 'local', path: store('vault'), priority: 5, secret_access_key: VAULT_CREDENTIAL });
    expect(eb.locations.enabled().map((l) => l.name).sort()).toEqual(['local-a', 'local-b', 'vault']);

    // The audit history up to the snapshot, with its ids; nothing after it (the late user), then the rebuild.
    const audit = await bdb.select().from(auditEvents).orderBy(auditEvents.id);
    const actions = audit.map((x) => `${x.action} ${x.target ?? ''}`.trim());
    expect(actions).toEqual(expect.arrayContaining(['user.create admin@example.test', 'user.create ops@example.test', 'schedule.create nightly', 'storage.addLocation vault', 'backup.verify before-snapshot', `backup.create ${one.backup_id}`]));
    expect(actions).not.toContain('user.create late@example.test');
    expect(actions.at(-1)).toBe('catalog.rebuild');
    expect(new Set(audit.map((x) => x.id)).size).toBe(audit.length);

    const list = (await eb.listBackups()).map((x) => x.backup_id).sort();
    expect(list).toEqual([one.backup_id, two.backup_id].sort());
    for (const id of list) expect((await eb.verifyBackup(id, { readData: true })).status).toBe('healthy');
    const target = path.join(b.dir, 'restored');
    await eb.restoreBackup(two.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
    await eb.close();

    // Recovered: the recovered catalog writes its own snapshot, and a second run restores nothing again.
    expect((await catalogObjects(store('local-a'))).length).toBeGreaterThan(2);
    const again = await runCli(['recover-catalog', '--json'], b.env);
    expect(again.code, again.stderr).toBe(0);
    expect((again.json as RecoverReport).catalog_snapshot).toMatchObject({ used: null, not_restored_reason: expect.stringMatching(/already restored/) });
    const [late] = await (await b.open()).catalog.db.select().from(users).where(eq(users.email, 'late@example.test'));
    expect(late).toBeUndefined();

    // --skip-catalog-snapshot (a snapshot is suspected): backups only, nothing from the snapshots.
    const c = await makeEnv(mode, { storage_locations: configured, replication_factor: 2 }, { PLEXICHAT_ENCRYPTION_KEY: a.env.PLEXICHAT_ENCRYPTION_KEY });
    envs.push(c);
    const skip = await runCli(['recover-catalog', '--skip-catalog-snapshot', '--json'], c.env);
    expect((skip.json as RecoverReport).catalog_snapshot).toMatchObject({ used: null, not_restored_reason: expect.stringMatching(/skipped/) });
    expect((skip.json as RecoverReport).backups).toBe(2);
    expect(await (await c.open()).catalog.db.select().from(users)).toEqual([]);
  }, 900_000);
});
