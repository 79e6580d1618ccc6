import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { createSchedule, setPaused } from '../../server/jobs/schedule-store';
import { ScheduleWorker } from '../../server/jobs/worker';
import { listAlerts } from '../../server/monitoring/alert-store';
import { BackupHealthMonitor } from '../../server/monitoring/health-monitor';
import { alertOnVerify, alertsFor } from '../../server/monitoring/hooks';
import { latestSamples, openAlertCounts } from '../../server/monitoring/metric-store';
import { healthReport } from '../../server/monitoring/report';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { decodedMail as decoded, hookReceiver, smtpReceiver } from '../support/receivers';
import { makeTree } from '../support/tree';

const MiB = 1024 * 1024;
const PUBLIC = 'https://backups.example.test';

const linksIn = (s: string) => [...s.matchAll(/https:\/\/backups\.example\.test\/[^\s"<>)]+/g)].map((m) => m[0]);

describe.each(CATALOG_MODES)('alerts (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let mail: Awaited<ReturnType<typeof smtpReceiver>>;
  let slack: Awaited<ReturnType<typeof hookReceiver>>;
  let src: string;
  let store: string;

  beforeAll(async () => {
    mail = await smtpReceiver();
    slack = await hookReceiver();
    store = await mkdtemp(path.join(tmpdir(), 'pxalerts-'));
    t = await makeEnv(mode, {
      public_url: PUBLIC,
      storage_locations: [
        { name: 'small-a', type: 'local', path: path.join(store, 'small-a'), max_size_gb: 0.01 },
        { name: 'small-b', type: 'local', path: path.join(store, 'small-b'), max_size_gb: 0.01 },
      ],
      alerts: {
        email: { enabled: true, smtp_server: '127.0.0.1', smtp_port: mail.port, from: 'backup@example.test', recipients: ['ops@example.test'] },
        slack: { enabled: true, webhook_url: slack.url, channel: '#backups' },
        thresholds: { storage_usage_warning: 40, storage_usage_critical: 95 },
      },
    });
    engine = await t.open();
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 11, smallFiles: 20, bigFiles: [5 * MiB] });
  });
  afterAll(async () => {
    await t?.cleanup();
    await rm(store, { recursive: true, force: true });
    await mail?.close();
    await slack?.close();
  });

  it('a verify that finds a corrupted backup sends one email and one Slack message, once while open', async () => {
    const b = await engine.createBackup({ paths: [src] });
    const victim = (await engine.getShardMap(b.backup_id)).filter((s) => s.kind === 'data').sort((a, z) => z.plain_size - a.plain_size)[0]!;
    for (const r of victim.replicas) await rm(path.join(store, r.location, 'data', victim.shard_id.slice(0, 2), victim.shard_id));

    const v = await engine.verifyBackup(b.backup_id);
    expect(v.status).toBe('corrupted');
    await alertOnVerify(engine, v); // what the CLI and the tRPC verify do after every verify
    expect(mail.mails).toHaveLength(1);
    expect(mail.mails[0]!.to).toBe('ops@example.test');
    expect(linksIn(decoded(mail.mails[0]!))).toContain(`${PUBLIC}/backups/${b.backup_id}`);
    expect(slack.posts).toHaveLength(1);
    const post = slack.posts[0] as { channel: string; blocks: { type: string; elements?: { type: string; url?: string }[] }[] };
    expect(post.channel).toBe('#backups');
    const button = post.blocks.find((x) => x.type === 'actions')?.elements?.[0];
    expect(button).toMatchObject({ type: 'button' });
    expect(button?.url?.endsWith(`/backups/${b.backup_id}`)).toBe(true);

    await alertOnVerify(engine, await engine.verifyBackup(b.backup_id)); // still broken, alert still open: no storm
    expect(mail.mails).toHaveLength(1);
    expect(slack.posts).toHaveLength(1);
    const open = await listAlerts(engine.catalog.db, { states: ['open'] });
    expect(open.filter((a) => a.subjectKey === `verify:${b.backup_id}`)).toHaveLength(1);

    await engine.deleteBackup(b.backup_id);
  });

  it('storage usage over the threshold raises a warning that resolves when space is freed', async () => {
    const before = { mails: mail.mails.length, posts: slack.posts.length };
    const b = await engine.createBackup({ paths: [src] });
    const monitor = new BackupHealthMonitor(engine, alertsFor(engine));
    const cycle = await monitor.runCycle();
    expect(cycle.errors).toEqual([]);
    // The first test's corrupted backup was deleted since: its verify alert resolved in this cycle.
    expect((await listAlerts(engine.catalog.db, { states: ['open'] })).filter((a) => a.rule === 'verify_unhealthy')).toEqual([]);
    const raised = (await listAlerts(engine.catalog.db, { states: ['open'] })).filter((a) => a.rule === 'storage_usage');
    expect(raised.map((a) => a.severity)).toEqual(['warning', 'warning']);
    expect(raised.map((a) => a.link).sort()).toEqual([`${PUBLIC}/storage/small-a`, `${PUBLIC}/storage/small-b`]);
    expect(slack.posts.length - before.posts).toBe(3); // 2 storage warnings + 1 resolved verify alert

    await monitor.runCycle(); // still over: nothing new is sent
    expect(slack.posts.length - before.posts).toBe(3);
    const latest = await latestSamples(engine.catalog.db);
    expect(latest.filter((x) => x.name === 'storage_usage_percent').map((x) => x.labels?.location).sort()).toEqual(['small-a', 'small-b']);
    expect(await openAlertCounts(engine.catalog.db)).toMatchObject({ warning: expect.any(Number) });
    expect((await openAlertCounts(engine.catalog.db)).warning).toBeGreaterThanOrEqual(2);

    await engine.deleteBackup(b.backup_id);
    await monitor.runCycle();
    expect((await listAlerts(engine.catalog.db, { states: ['open'] })).filter((a) => a.rule === 'storage_usage')).toEqual([]);
    expect(slack.posts.length - before.posts).toBe(5); // one "resolved" per location
    expect(mail.mails.length - before.mails).toBe(5);
    const resolved = slack.posts.slice(-2) as { text: string }[];
    expect(resolved.every((p) => p.text.includes('RESOLVED'))).toBe(true);

    const report = await healthReport(engine);
    expect(report.alerts.resolved).toBeGreaterThanOrEqual(2);
    expect(report.verify.corrupted).toBe(1);
  });

  it('a scheduled backup that cannot start, a missed schedule and a slow restore raise alerts linking to themselves', async () => {
    const db = engine.catalog.db;
    const svc = alertsFor(engine);
    const before = slack.posts.length;
    // On a minute boundary, so the first due run is exactly 60 s after t0 and the worker 1 s after it is not late.
    const t0 = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 60 * 60_000);
    await createSchedule(db, { name: 'gone', cron: '* * * * *', paths: [path.join(t.dir, 'no-such-dir')] }, t0);
    const [out] = await new ScheduleWorker(engine, { events: svc, now: () => new Date(t0.getTime() + 61_000) }).runOnce();
    expect(out).toMatchObject({ status: 'failed', late: false });
    const failed = (await listAlerts(db, { states: ['open'] })).find((a) => a.subjectKey === 'backup_failed:schedule:gone');
    expect(failed?.link).toBe(`${PUBLIC}/alerts/${failed?.id}`);
    expect(slack.posts.length - before).toBe(1);

    // Nothing ran since: the monitor sees the schedule missed its later runs.
    await new BackupHealthMonitor(engine, svc).runCycle();
    const missed = (await listAlerts(db, { states: ['open'] })).find((a) => a.rule === 'schedule_missed');
    expect(missed).toMatchObject({ subjectKey: 'schedule_missed:gone', severity: 'warning' });
    await setPaused(db, 'gone', true, new Date());
    await new BackupHealthMonitor(engine, svc).runCycle();
    expect((await listAlerts(db, { states: ['open'] })).find((a) => a.rule === 'schedule_missed')).toBeUndefined();

    await svc.onRestore({ backup_id: 'backup_x', duration_seconds: 2000, ok: true });
    await svc.onRestore({ backup_id: 'backup_y', duration_seconds: 10, ok: true });
    const slow = (await listAlerts(db, { states: ['open'] })).filter((a) => a.rule === 'restore_slow');
    expect(slow.map((a) => [a.severity, a.link])).toEqual([['warning', `${PUBLIC}/backups/backup_x`]]);
  });

  it('the rolling verify re-verifies the least recently verified backups, a sample each cycle', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push((await engine.createBackup({ payload: `rolling ${i}`, tags: ['rolling'] })).backup_id);
    const monitor = new BackupHealthMonitor(engine, alertsFor(engine));
    const seen: string[] = [];
    // 3 backups, a 300 s interval and a 7-day period: one per cycle, never the same one twice in a row.
    for (let i = 0; i < 3; i++) seen.push(...(await monitor.runCycle()).verified.map((v) => v.backup_id));
    expect(seen.sort()).toEqual([...made].sort());
    for (const id of made) await engine.deleteBackup(id);
  });

  it('a failing channel is retried and logged and never fails the caller', async () => {
    const logs: string[] = [];
    const { AlertService } = await import('../../server/monitoring/alert-service');
    const svc = new AlertService(engine.catalog.db, { ...engine.config, alerts: { webhook: { enabled: true, url: 'http://127.0.0.1:9/hook' }, delivery_attempts: 2, delivery_backoff_ms: 10 } }, { log: (l) => logs.push(l) });
    const r = await svc.raise({ rule: 'test', subjectKey: `test:${mode}`, severity: 'warning', message: 'unreachable webhook', path: null });
    expect(r.link).toBe(`${PUBLIC}/alerts/${r.id}`);
    expect(logs.join('\n')).toMatch(/webhook delivery failed after 2 attempt/);
  });
});
