/**
 * Alert channels and thresholds edited from the console (admin): stored in the catalog with the secrets
 * sealed, applied by every process of the installation without a restart, validated like the config file,
 * never returned in clear, and revertible to the config file's `alerts` key.
 */
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditEvents, settings as settingsTable } from '../../db/schema';
import type { BackupEngine } from '../../server/engine/engine';
import { AlertService } from '../../server/monitoring/alert-service';
import { listAlerts } from '../../server/monitoring/alert-store';
import { BackupHealthMonitor } from '../../server/monitoring/health-monitor';
import { liveAlertsApi } from '../../server/trpc/routers/alerts/api';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { decodedMail, hookReceiver, smtpReceiver } from '../support/receivers';

const PUBLIC = 'https://backups.example.test';

describe.each(CATALOG_MODES)('alert settings from the console (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let mail: Awaited<ReturnType<typeof smtpReceiver>>;
  let slack: Awaited<ReturnType<typeof hookReceiver>>;
  let fileHook: Awaited<ReturnType<typeof hookReceiver>>;

  beforeAll(async () => {
    mail = await smtpReceiver();
    slack = await hookReceiver();
    fileHook = await hookReceiver();
    // The config file only has a generic webhook; the admin adds email and Slack from the console.
    const dir = (name: string) => path.join(tmpdir(), `pxalertset-${process.pid}-${mode}-${name}`);
    t = await makeEnv(mode, {
      public_url: PUBLIC,
      storage_locations: [
        { name: 'a', type: 'local', path: dir('a'), max_size_gb: 1 },
        { name: 'b', type: 'local', path: dir('b'), max_size_gb: 1 },
      ],
      alerts: { webhook: { enabled: true, url: fileHook.url }, delivery_attempts: 1 },
    });
    engine = await t.open();
  });
  afterAll(async () => {
    await t?.cleanup();
    for (const n of ['a', 'b']) await rm(path.join(tmpdir(), `pxalertset-${process.pid}-${mode}-${n}`), { recursive: true, force: true });
    await mail?.close();
    await slack?.close();
    await fileHook?.close();
  });

  it('shows the config file settings until an admin saves some', async () => {
    const s = await liveAlertsApi(engine).settings();
    expect(s.origin.source).toBe('file');
    expect(s.webhook).toEqual({ enabled: true, url: `${new URL(fileHook.url).origin}/…` });
    expect(JSON.stringify(s)).not.toContain('/services/T000');
  });

  it('refuses invalid settings naming the field, and changes nothing', async () => {
    const api = liveAlertsApi(engine);
    await expect(api.updateSettings({ slack: { enabled: true } }, 'admin@x.io')).rejects.toThrow(/alerts\.slack\.webhook_url is required/);
    await expect(api.updateSettings({ thresholds: { storage_usage_warning: 95, storage_usage_critical: 90 } }, 'admin@x.io')).rejects.toThrow(/storage_usage_warning must not exceed storage_usage_critical/);
    await expect(api.updateSettings({ email: { enabled: true, recipients: [] } }, 'admin@x.io')).rejects.toThrow(/alerts\.email\.recipients/);
    await expect(api.updateSettings({ thresholds: { recovery_time_warning: -1 } }, 'admin@x.io')).rejects.toThrow(/alerts\.thresholds\.recovery_time_warning/);
    expect((await api.settings()).origin.source).toBe('file');
    expect(await engine.catalog.db.select().from(settingsTable)).not.toContainEqual(expect.objectContaining({ key: 'alerts' }));
  });

  it('saves channels with sealed secrets; another process applies them without a restart', async () => {
    const api = liveAlertsApi(engine);
    const saved = await api.updateSettings(
      {
        email: { enabled: true, smtp_server: '127.0.0.1', smtp_port: mail.port, password: 'smtp-pass-SECRET', from: 'backup@example.test', recipients: ['ops@example.test'] },
        slack: { enabled: true, webhook_url: slack.url, channel: '#backups' },
        webhook: { enabled: false },
        thresholds: { storage_usage_warning: 0.01, storage_usage_critical: 99 },
      },
      'admin@x.io',
    );
    expect(saved.origin).toMatchObject({ source: 'console', updated_by: 'admin@x.io' });
    expect(saved.email.password).toBe('••••');
    expect(saved.slack.webhook_url).toBe(`${new URL(slack.url).origin}/…`);
    expect(saved.thresholds.storage_usage_warning).toBe(0.01);

    // Nothing secret in the catalog row in clear, nor in the audit trail.
    const rows = JSON.stringify(await engine.catalog.db.select().from(settingsTable));
    expect(rows).not.toContain('smtp-pass-SECRET');
    expect(rows).not.toContain('/services/T000');
    const audit = JSON.stringify(await engine.catalog.db.select().from(auditEvents));
    expect(audit).toContain('alert.settings.update');
    expect(audit).not.toContain('smtp-pass-SECRET');

    // A second process (here: a second AlertService on the same catalog, as a worker would hold) raises with them.
    const worker = new AlertService(engine.catalog.db, engine.config, { settingsTtlMs: 0 });
    await worker.raise({ rule: 'test', subjectKey: `console-settings:${mode}`, severity: 'warning', message: 'from a worker', path: '/backups/b-1' });
    expect(mail.mails).toHaveLength(1);
    expect(decodedMail(mail.mails[0]!)).toContain(`${PUBLIC}/backups/b-1`);
    expect(slack.posts).toHaveLength(1);
    expect(fileHook.posts).toHaveLength(0); // the console's settings replace the file's as a whole
  });

  it('keeps a secret that comes back masked, and applies new thresholds to the health checks', async () => {
    const api = liveAlertsApi(engine);
    const shown = await api.settings();
    // The form sends back what it was shown, with one threshold changed.
    await api.updateSettings({ email: { ...shown.email }, slack: { ...shown.slack }, webhook: { ...shown.webhook }, thresholds: { ...shown.thresholds, storage_usage_critical: 98 } }, 'admin@x.io');
    const worker = new AlertService(engine.catalog.db, engine.config, { settingsTtlMs: 0 });
    await worker.refresh();
    expect(worker.settings.email.password).toBe('smtp-pass-SECRET');
    expect(worker.settings.slack.webhook_url).toBe(slack.url);
    expect(worker.thresholds.storage_usage_critical).toBe(98);

    // A tiny warning threshold: the first backup's bytes put every location over it.
    await engine.createBackup({ payload: randomBytes(400_000).toString('base64') }); // ≈ 0.04 % of 1 GiB
    await new BackupHealthMonitor(engine, worker).runCycle();
    const usage = (await listAlerts(engine.catalog.db, { states: ['open'] })).filter((a) => a.rule === 'storage_usage');
    expect(usage.length).toBeGreaterThan(0);
    expect(usage.every((a) => a.severity === 'warning')).toBe(true);
  });

  it('sends a test alert through the saved channels', async () => {
    const before = slack.posts.length;
    const r = await liveAlertsApi(engine).sendTest('admin@x.io');
    expect(r.map((d) => [d.channel, d.ok]).sort()).toEqual([['email', true], ['slack', true]]);
    expect(slack.posts.length).toBe(before + 1);
  });

  it('ignores console settings sealed under another master key, saying why, and reverts to the file', async () => {
    const other = new AlertService(engine.catalog.db, { ...engine.config, master_key_source: { kind: 'env', value: 'ab'.repeat(32) } }, { settingsTtlMs: 0, log: () => undefined });
    await other.refresh();
    expect(other.origin.source).toBe('file');
    expect(other.origin.error).toMatch(/cannot be opened with the configured master key; enter the channel secrets again/);
    expect(other.settings.webhook.url).toBe(fileHook.url);

    const reset = await liveAlertsApi(engine).resetSettings('admin@x.io');
    expect(reset.origin.source).toBe('file');
    expect(reset.email.enabled).toBe(false);
    expect(reset.webhook.enabled).toBe(true);
  });
});
