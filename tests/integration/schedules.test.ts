import { spawn } from 'node:child_process';
import { userInfo } from 'node:os';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { inArray } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents } from '../../db/schema';
import { runOpsCommand } from '../../server/cli/ops-commands';
import type { BackupEngine } from '../../server/engine/engine';
import { createSchedule, listSchedules, setPaused } from '../../server/jobs/schedule-store';
import { ScheduleWorker } from '../../server/jobs/worker';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

/** Runs `plexichat-backup worker` through runOpsCommand in its own process (the way main.ts will call it). */
async function workerProcess(dir: string, env: Record<string, string | undefined>, args: string[]) {
  const url = (f: string) => pathToFileURL(path.resolve(f)).href;
  const script = path.join(dir, 'worker.mjs');
  await writeFile(
    script,
    `const { loadConfig } = await import('${url('server/config.ts')}');
const { BackupEngine } = await import('${url('server/engine/engine.ts')}');
const { runOpsCommand } = await import('${url('server/cli/ops-commands.ts')}');
let e;
const r = await runOpsCommand('worker', ${JSON.stringify(args)}, async () => (e ??= await BackupEngine.open(loadConfig(), { log: () => undefined })));
process.stdout.write(JSON.stringify(r.json));
await e?.close();
`,
  );
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: path.resolve('.'), env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; runs: { status: string; late: boolean; backup_id: string }[]; stderr: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, runs: stdout ? (JSON.parse(stdout) as { runs: { status: string; late: boolean; backup_id: string }[] }).runs : [], stderr })),
  );
  return { child, done, stderr: () => stderr };
}

/** A clock the test moves by hand. */
function clock(start: Date) {
  let t = start.getTime();
  return { now: () => new Date(t), set: (d: Date) => (t = d.getTime()), add: (ms: number) => (t += ms) };
}

describe.each(CATALOG_MODES)('schedules (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let src: string;
  // A whole minute in the recent past, so every due time is before the real "now" too.
  const t0 = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000);

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 7, smallFiles: 40 });
  });
  afterAll(async () => t?.cleanup());

  it('a `* * * * *` schedule run by the worker makes one completed backup tagged with its name', async () => {
    const c = clock(t0);
    await createSchedule(engine.catalog.db, { name: 'every-minute', cron: '* * * * *', paths: [src], tags: ['extra'] }, c.now());
    const w = new ScheduleWorker(engine, { now: c.now });
    expect(await w.runOnce()).toEqual([]); // nothing due yet
    c.add(61_000);
    const [out, ...more] = await w.runOnce();
    expect(more).toEqual([]);
    expect(out).toMatchObject({ schedule: 'every-minute', status: 'completed', late: false, due_at: new Date(t0.getTime() + 60_000).toISOString() });
    const b = await engine.getBackup(out!.backup_id!);
    expect(b?.status).toBe('completed');
    expect(b?.tags).toEqual(expect.arrayContaining(['every-minute', 'extra']));
    expect(await w.runOnce()).toEqual([]); // the same due run never runs twice
    const [view] = await listSchedules(engine.catalog.db, c.now());
    expect(view?.last_run).toMatchObject({ status: 'completed', backup_id: out!.backup_id });
    await setPaused(engine.catalog.db, 'every-minute', true, c.now());
  });

  it('runs missed while everything was down run once at the next start, marked late', async () => {
    const c = clock(t0);
    await createSchedule(engine.catalog.db, { name: 'missed', cron: '*/5 * * * *', paths: [src] }, c.now());
    c.add(21 * 60_000); // four due times passed while no worker ran
    const outs = await new ScheduleWorker(engine, { now: c.now }).runOnce();
    expect(outs).toHaveLength(1);
    expect(outs[0]).toMatchObject({ schedule: 'missed', status: 'completed', late: true });
    expect(await new ScheduleWorker(engine, { now: c.now }).runOnce()).toEqual([]);
    await setPaused(engine.catalog.db, 'missed', true, c.now());
  });

  it('two workers on one catalog produce one backup per due run, not two', async () => {
    const other = await t.open();
    const c = clock(t0);
    await createSchedule(engine.catalog.db, { name: 'shared', cron: '*/2 * * * *', paths: [src] }, c.now());
    const workers = [new ScheduleWorker(engine, { now: c.now }), new ScheduleWorker(other, { now: c.now })];
    for (let i = 0; i < 3; i++) {
      c.add(2 * 60_000);
      const outs = (await Promise.all(workers.map((w) => w.runOnce()))).flat();
      expect(outs.map((o) => o.status)).toEqual(['completed']);
    }
    const made = await engine.listBackups({ tags: ['shared'] });
    expect(made).toHaveLength(3);
    expect(new Set(made.map((b) => b.metadata.due_at)).size).toBe(3);
    await setPaused(engine.catalog.db, 'shared', true, c.now());
  });

  it('the worker command runs a due run in its own process and stops on SIGTERM', async () => {
    // Created 3 minutes ago: its runs fell due while no worker ran.
    await createSchedule(engine.catalog.db, { name: 'proc', cron: '* * * * *', paths: [src] }, new Date(Date.now() - 3 * 60_000));
    const w = await workerProcess(t.dir, t.env, []);
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !/schedule proc: /i.test(w.stderr().replace(/.*is late.*\n/, ''))) await new Promise((r) => setTimeout(r, 200));
    w.child.kill('SIGTERM');
    const out = await w.done;
    expect(out.code, out.stderr).toBe(0);
    expect(out.runs).toEqual([expect.objectContaining({ status: 'completed', late: true })]);
    expect((await engine.getBackup(out.runs[0]!.backup_id))?.tags).toContain('proc');
    await setPaused(engine.catalog.db, 'proc', true, new Date());
  }, 90_000);

  it('invalid cron names the field; CLI add/list/pause/run/edit/remove', async () => {
    const open = async () => engine;
    await expect(runOpsCommand('schedule', ['add', '--name', 'bad', '--cron', '61 * * * *', '--path', src], open)).rejects.toThrow(/minute 61 is out of range/);
    await expect(runOpsCommand('schedule', ['add', '--name', 'bad', '--cron', '0 25 * * *', '--path', src], open)).rejects.toThrow(/hour 25/);
    await expect(runOpsCommand('schedule', ['add', '--name', 'bad', '--cron', '0 0 * *', '--path', src], open)).rejects.toThrow(/4 field\(s\)/);
    await expect(runOpsCommand('schedule', ['add', '--name', 'bad', '--cron', '0 0 * * *', '--timezone', 'Mars/Olympus', '--path', src], open)).rejects.toThrow(/time zone/);
    const added = await runOpsCommand('schedule', ['add', '--name', 'cli', '--cron', '0 3 * * *', '--timezone', 'Europe/Berlin', '--path', src, '--type', 'incremental', '--tag', 'nightly', '--retention-days', '14', '--priority', '9'], open);
    expect((added?.json as { next_runs: string[] }).next_runs).toHaveLength(5);
    const listed = (await runOpsCommand('schedule', ['list'], open))?.json as { name: string; backup_type: string; paused: boolean }[];
    expect(listed.find((s) => s.name === 'cli')).toMatchObject({ backup_type: 'incremental', paused: false });
    await runOpsCommand('schedule', ['pause', 'cli'], open);
    const ran = await runOpsCommand('schedule', ['run', 'cli'], open);
    expect(ran?.json).toMatchObject({ status: 'completed', schedule: 'cli' });
    const b = await engine.getBackup((ran?.json as { backup_id: string }).backup_id);
    // The schedule's priority is the backup's: it decides who takes a free slot first when backups queue.
    expect(b).toMatchObject({ backup_type: 'incremental', retention_days: 14, priority: 9 });
    await expect(runOpsCommand('schedule', ['edit', 'cli', '--priority', '11'], open)).rejects.toThrow(/priority is 1–10/);
    expect(b?.tags).toEqual(expect.arrayContaining(['cli', 'nightly']));
    // edit changes only what it is given; a continuous type takes a delay.
    const edited = await runOpsCommand('schedule', ['edit', 'cli', '--cron', '15 4 * * *', '--type', 'continuous', '--delay', '30'], open);
    expect(edited?.json).toMatchObject({ name: 'cli', cron: '15 4 * * *', timezone: 'Europe/Berlin', backup_type: 'continuous', delay_seconds: 30, retention_days: 14, priority: 9, tags: ['nightly'] });
    await expect(runOpsCommand('schedule', ['edit', 'cli', '--cron', '0 0 31 2 * *'], open)).rejects.toThrow(/field/);
    await runOpsCommand('schedule', ['edit', 'cli', '--rename', 'cli2', '--type', 'full'], open);
    expect((await runOpsCommand('schedule', ['list'], open))?.json).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'cli2', backup_type: 'full', delay_seconds: null })]));
    await runOpsCommand('schedule', ['remove', 'cli2'], open);
    // Each change is audited as the OS user who ran the command, like every other CLI action.
    const audited = await engine.catalog.db.select().from(auditEvents).where(inArray(auditEvents.action, ['schedule.create', 'schedule.pause', 'schedule.update', 'schedule.remove']));
    expect(audited.filter((a) => a.target === 'cli' || a.target === 'cli2').map((a) => a.actor)).toEqual(Array(5).fill(`cli:${userInfo().username}`));
    await expect(runOpsCommand('schedule', ['run', 'cli2'], open)).rejects.toThrow(/not found/);
    expect(await runOpsCommand('backup', [], open)).toBeNull();
  });
});
