import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runDrillCommand } from '../../server/cli/drill-commands';
import type { BackupEngine } from '../../server/engine/engine';
import { createSchedule } from '../../server/jobs/schedule-store';
import { ScheduleWorker } from '../../server/jobs/worker';
import { AlertService } from '../../server/monitoring/alert-service';
import { listAlerts } from '../../server/monitoring/alert-store';
import { alertsFor } from '../../server/monitoring/hooks';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree, pastRacyWindow } from '../support/tree';

const MiB = 1024 * 1024;

describe.each(CATALOG_MODES)('restore drills (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let src: string;
  let scratchRoot: string;
  const savedTmp = process.env.TMPDIR;

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 11, smallFiles: 200, bigFiles: [3 * MiB] });
    await pastRacyWindow();
  }, 300_000);
  afterAll(async () => t?.cleanup());
  // Drills make their scratch directory under os.tmpdir(): point it at a directory of this test, so
  // "the scratch copy is gone" is a plain readdir.
  beforeEach(async () => {
    scratchRoot = path.join(t.dir, `tmp-${Date.now()}`);
    await mkdir(scratchRoot);
    process.env.TMPDIR = scratchRoot;
  });
  afterEach(() => {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  });

  it('a drill of a healthy backup passes, compares content hashes, records RTO and bytes, and removes its scratch copy', async () => {
    const b = await engine.createBackup({ paths: [src] });
    const r = await engine.runDrill({ backupId: b.backup_id, actor: 'test' });
    expect(r).toMatchObject({ backup_id: b.backup_id, status: 'passed', method: 'sha256', error: null, sample_percent: 100, files_checked: 201, bytes_checked: b.original_size });
    expect(r.rto_seconds).toBeGreaterThan(0);
    expect(r.rto_seconds).toBe(r.measured_seconds);
    expect(await readdir(scratchRoot)).toEqual([]);
    const [row] = await engine.listDrills({ backupId: b.backup_id });
    expect(row).toMatchObject({ drill_id: r.drill_id, status: 'passed', bytes_checked: b.original_size, files_checked: 201 });
    expect(row!.rto_seconds).toBeCloseTo(r.rto_seconds, 6);
    // Default: the newest completed backup; passing resolves nothing and raises nothing (RTO far below 240 min).
    await alertsFor(engine).onDrillFinished(r);
    expect((await listAlerts(engine.catalog.db, { states: ['open'] })).filter((a) => a.rule.startsWith('drill'))).toEqual([]);
    // The CLI: same drill by default on the newest backup of each source set; list shows it.
    const cli = await runDrillCommand('drill', ['run', '--json'], async () => engine);
    expect(cli?.code).toBe(0);
    expect((cli?.json as { backup_id: string; status: string }[]).map((x) => [x.backup_id, x.status])).toEqual([[b.backup_id, 'passed']]);
    expect(await readdir(scratchRoot)).toEqual([]);
  });

  it('a sampled drill checks about P % of the files and extrapolates the RTO', async () => {
    const [b] = await engine.listBackups({ status: 'completed', limit: 1 });
    const r = await engine.runDrill({ backupId: b!.backup_id, samplePercent: 10, seed: 1234 });
    expect(r.status).toBe('passed');
    expect(r.files_checked).toBe(Math.ceil(201 * 0.1));
    expect(r.bytes_checked).toBeLessThan(b!.original_size);
    expect(r.rto_seconds).toBeCloseTo((r.measured_seconds * b!.original_size) / r.bytes_checked, 6);
    // The same seed picks the same files.
    const again = await engine.runDrill({ backupId: b!.backup_id, samplePercent: 10, seed: 1234 });
    expect(again.bytes_checked).toBe(r.bytes_checked);
    expect(await readdir(scratchRoot)).toEqual([]);
  });

  it("files an incremental backup reused carry their base's content hash: the drill checks every file by it", async () => {
    await writeFile(path.join(src, 'd0', 'f1.dat'), 'changed for the incremental');
    const inc = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    expect(inc.metadata.files_reused).toBe(200);
    const r = await engine.runDrill({ backupId: inc.backup_id });
    expect(r).toMatchObject({ status: 'passed', method: 'sha256', files_checked: 201 });
    expect(r.note ?? null).toBeNull();
  });

  it('a drill of a backup with a lost shard fails, raises a critical alert linking to the backup, and removes its scratch copy', async () => {
    const lostSrc = path.join(t.dir, 'lost-src');
    await makeTree(lostSrc, { seed: 5, smallFiles: 50, bigFiles: [3 * MiB] });
    const b = await engine.createBackup({ paths: [lostSrc] });
    const victim = (await engine.getShardMap(b.backup_id)).filter((s) => s.kind === 'data').sort((a, z) => z.plain_size - a.plain_size)[0]!;
    for (const rep of victim.replicas) await rm(path.join(t.config.storage_root, rep.location, 'data', victim.shard_id.slice(0, 2), victim.shard_id));

    const cli = await runDrillCommand('drill', ['run', '--backup', b.backup_id, '--json'], async () => engine);
    expect(cli?.code).toBe(3);
    const [r] = cli?.json as { status: string; error: string; drill_id: string }[];
    expect(r).toMatchObject({ status: 'failed' });
    expect(r!.error).toMatch(/Missing required shards/);
    expect(await readdir(scratchRoot)).toEqual([]);
    const alert = (await listAlerts(engine.catalog.db, { states: ['open'] })).find((a) => a.rule === 'drill_failed');
    expect(alert).toMatchObject({ severity: 'critical' });
    expect(alert!.link.endsWith(`/backups/${b.backup_id}`)).toBe(true);
    expect((await engine.listDrills({ backupId: b.backup_id }))[0]).toMatchObject({ status: 'failed' });
    await rm(lostSrc, { recursive: true });
  });

  it('a drill whose RTO exceeds restore_time_objective_minutes raises a warning', async () => {
    const good = (await engine.listBackups({ status: 'completed' })).find((x) => x.sources[0] === src)!;
    const r = await engine.runDrill({ backupId: good.backup_id });
    expect(r.status).toBe('passed');
    const strict = new AlertService(engine.catalog.db, { ...engine.config, alerts: { thresholds: { restore_time_objective_minutes: 1e-6 } } }, { keys: () => engine.secretKeys() });
    await strict.onDrillFinished(r);
    const alert = (await listAlerts(engine.catalog.db, { states: ['open'] })).find((a) => a.rule === 'drill_rto');
    expect(alert).toMatchObject({ severity: 'warning', subjectKey: `drill_rto:${good.sources.join(',')}` });
    expect(alert!.link.endsWith(`/backups/${good.backup_id}`)).toBe(true);
    expect(alert!.message).toMatch(/above the objective/);
    // Under the default objective (240 min) the next drill resolves it.
    await alertsFor(engine).onDrillFinished(r);
    expect((await listAlerts(engine.catalog.db, { states: ['open'] })).find((a) => a.rule === 'drill_rto')).toBeUndefined();
  });

  it('a drill schedule runs through the worker and records a drill of its sources', async () => {
    const t0 = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000);
    let now = t0.getTime();
    await createSchedule(engine.catalog.db, { name: 'drill-nightly', cron: '* * * * *', paths: [src], backupType: 'drill' }, new Date(now));
    const w = new ScheduleWorker(engine, { now: () => new Date(now), events: alertsFor(engine) });
    now += 61_000;
    const before = (await engine.listDrills()).length;
    const [out] = await w.runOnce();
    expect(out).toMatchObject({ schedule: 'drill-nightly', status: 'completed', error: null });
    const drills = await engine.listDrills();
    expect(drills.length).toBe(before + 1);
    expect(drills[0]).toMatchObject({ backup_id: out!.backup_id, status: 'passed', actor: 'schedule:drill-nightly', sources: [src] });
    expect(await readdir(scratchRoot)).toEqual([]);
  });
});
