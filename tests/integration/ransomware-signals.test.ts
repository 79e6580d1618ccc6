/**
 * Ransomware signals end to end (issue 12): a tree of text files backed up, a few edited (no alert), then
 * 70 % rewritten with random bytes and renamed to .locked: the next backup completes, is marked suspicious,
 * raises a critical suspicious_change alert linking to it, and retention keeps the last good backup past its
 * expiry until an admin acknowledges through tRPC (an operator may not). PX_RANSOM_FILES sets the tree's size
 * (default 2,000; the 20,000 runs the same way).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../db/schema';
import type { StoredChangeSummary } from '../../server/engine/backup/change-signals';
import { BackupEngine } from '../../server/engine/engine';
import { listAlerts } from '../../server/monitoring/alert-store';
import { watchBackup } from '../../server/monitoring/hooks';
import { createCallerFactory } from '../../server/trpc/init';
import { appRouter } from '../../server/trpc/root';
import type { Services } from '../../server/trpc/services/types';
import { prose, seeded } from '../support/change-patterns';
import { runCli } from '../support/cli';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

const FILES = Number(process.env.PX_RANSOM_FILES ?? 2000);
const DAY = 86_400_000;

describe.each(CATALOG_MODES.slice(-1))('ransomware signals (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let clock = Date.parse('2026-03-01T02:00:00Z');
  const src = () => path.join(t.dir, 'src');
  const paths: string[] = [];

  beforeAll(async () => {
    t = await makeEnv(mode, { public_url: 'https://backup.example' });
    engine = await BackupEngine.open(t.config, { log: () => undefined, now: () => new Date(clock) });
    const rand = seeded(12);
    for (let i = 0; i < FILES; i++) {
      const dir = path.join(src(), `d${Math.floor(i / 100)}`);
      if (i % 100 === 0) mkdirSync(dir, { recursive: true });
      const p = path.join(dir, `note-${i}.txt`);
      writeFileSync(p, prose(rand, 800 + Math.floor(rand() * 2400)));
      paths.push(p);
    }
  });
  afterAll(async () => {
    await engine?.close().catch(() => undefined);
    await t?.cleanup();
  });

  /** A backup as the CLI, console and worker run it: alerts on its outcome once it settles. */
  const backup = async (type: 'full' | 'incremental') => {
    const { backup_id, done } = await engine.startBackup({ paths: [src()], backupType: type, retentionDays: 1 });
    await watchBackup(engine, backup_id, done);
    return done;
  };
  const suspiciousAlerts = async () => (await listAlerts(engine.catalog.db, {})).filter((a) => a.rule === 'suspicious_change');
  const caller = (role: Role) => {
    const services = { engine: async () => engine, users: async () => ({}), audit: async () => ({}) } as unknown as Services;
    return createCallerFactory(appRouter)({ user: { id: `id-${role}`, email: `${role}@x.io`, name: null, role }, services });
  };

  it('edits: no alert; mass encryption: a completed suspicious backup, an alert naming it, the previous one kept until an admin acknowledges', async () => {
    const t0 = Date.now();
    const first = await backup('full');
    expect(first.change_summary).toBeNull(); // nothing to compare with

    clock += DAY;
    const rand = seeded(13);
    for (const p of paths.slice(0, 20)) writeFileSync(p, prose(rand, 1500));
    const edited = await backup('incremental');
    const es = edited.change_summary as unknown as StoredChangeSummary;
    expect(es).toMatchObject({ previous_backup_id: first.backup_id, changed_files: 20, new_files: 0, removed_files: 0, entropy_jumps: 0 });
    expect(edited.suspicious).toBe(false);
    expect(await suspiciousAlerts()).toEqual([]);

    clock += DAY;
    const t1 = Date.now();
    const hit = paths.slice(0, Math.round(FILES * 0.7));
    for (const p of hit) {
      writeFileSync(`${p}.locked`, randomBytes(2000));
      unlinkSync(p);
    }
    const tRewrite = Date.now() - t1;
    const t2 = Date.now();
    const attacked = await backup('full'); // a full backup compares with the last one too
    const tAttacked = Date.now() - t2;
    expect(attacked.status).toBe('completed');
    expect(attacked.suspicious).toBe(true);
    const s = attacked.change_summary as unknown as StoredChangeSummary;
    expect(s).toMatchObject({ previous_backup_id: edited.backup_id, previous_files: FILES, renamed_files: hit.length, entropy_jumps: hit.length, top_new_extension: { ext: '.locked', files: hit.length } });
    expect(s.examples).toHaveLength(5);

    const [alert, ...more] = await suspiciousAlerts();
    expect(more).toEqual([]);
    expect(alert).toMatchObject({ severity: 'critical', state: 'open', link: `https://backup.example/backups/${attacked.backup_id}` });
    expect(alert!.message).toContain(attacked.backup_id);
    expect(alert!.message).toContain(`${hit.length} of ${FILES} files (70 %)`);
    expect(alert!.message).toContain('.locked');
    for (const ex of s.examples) expect(alert!.message).toContain(ex);

    // Every backup is past its one-day retention: the last good one and the suspicious one are kept, and say why.
    clock += 10 * DAY;
    const plan = await engine.prune({}, { dryRun: true });
    expect(plan.remove.map((r) => r.backup_id)).toEqual([first.backup_id]);
    const kept = Object.fromEntries(plan.keep.map((k) => [k.backup_id, k.reasons]));
    expect(kept[edited.backup_id]).toEqual([`last good backup before suspicious backup ${attacked.backup_id}: kept until an admin acknowledges it`]);
    expect(kept[attacked.backup_id]![0]).toContain('not yet acknowledged');
    expect((await engine.prune({})).removed).toBe(1);
    expect(await engine.getBackup(edited.backup_id)).not.toBeNull();

    // An operator may not acknowledge (server-enforced); an admin may, once, and it is audited.
    await expect(caller('operator').backup.acknowledge({ backupId: attacked.backup_id })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    expect((await engine.getBackup(attacked.backup_id))!.suspicious_acknowledged_at).toBeNull();
    const acked = await caller('admin').backup.acknowledge({ backupId: attacked.backup_id });
    expect(acked).toMatchObject({ suspicious: true, suspicious_acknowledged_by: 'admin@x.io' });
    await expect(caller('admin').backup.acknowledge({ backupId: attacked.backup_id })).rejects.toMatchObject({ message: expect.stringContaining('already acknowledged by admin@x.io') });
    const cli = await runCli(['acknowledge', attacked.backup_id], t.env);
    expect(cli.code).not.toBe(0);
    expect(cli.stderr).toContain('already acknowledged by admin@x.io');
    const audit = await engine.catalog.db.execute<{ actor: string }>(
      `SELECT actor FROM audit_events WHERE action = 'backup.acknowledge_suspicious' AND target = '${attacked.backup_id}'` as never,
    );
    expect(audit.rows.map((r) => r.actor)).toEqual(['admin@x.io']);
    expect((await suspiciousAlerts())[0]!.state).toBe('resolved');

    // Retention applies normally again.
    const after = await engine.prune({});
    expect(after.remove.map((r) => r.backup_id).sort()).toEqual([attacked.backup_id, edited.backup_id].sort());
    console.log(`ransomware signals, ${FILES} files: whole scenario ${Date.now() - t0} ms; rewrite ${tRewrite} ms; suspicious backup ${tAttacked} ms`);
  }, 300_000);
});
