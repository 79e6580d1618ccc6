import { describe, expect, it } from 'vitest';
import { alertSettings, DEFAULT_THRESHOLDS, publicSettings } from '../../server/monitoring/alert-settings';
import { slackBody } from '../../server/monitoring/channels';

describe('alert settings', () => {
  it('defaults to the spec thresholds with every channel off', () => {
    const s = alertSettings({ alerts: {}, alert_thresholds: {} });
    expect(s.thresholds).toEqual(DEFAULT_THRESHOLDS);
    expect([s.email.enabled, s.slack.enabled, s.webhook.enabled]).toEqual([false, false, false]);
  });

  it('takes thresholds from alerts.thresholds over alert_thresholds', () => {
    const s = alertSettings({ alerts: { thresholds: { storage_usage_warning: 70 } }, alert_thresholds: { storage_usage_warning: 60, storage_usage_critical: 85 } });
    expect(s.thresholds).toMatchObject({ storage_usage_warning: 70, storage_usage_critical: 85 });
  });

  it('names the invalid key', () => {
    expect(() => alertSettings({ alerts: { email: { enabled: true, smtp_port: 70000 } }, alert_thresholds: {} })).toThrow(/alerts\.email\.smtp_port/);
    expect(() => alertSettings({ alerts: { email: { enabled: true } }, alert_thresholds: {} })).toThrow(/alerts\.email\.recipients/);
    expect(() => alertSettings({ alerts: { slack: { enabled: true } }, alert_thresholds: {} })).toThrow(/alerts\.slack\.webhook_url/);
    expect(() => alertSettings({ alerts: { thresholds: { storage_usage_warning: 95 } }, alert_thresholds: {} })).toThrow(/storage_usage_warning must not exceed storage_usage_critical/);
  });

  it('masks secrets for the console', () => {
    const s = alertSettings({ alerts: { email: { password: 'hunter2' }, slack: { webhook_url: 'https://hooks.slack.com/services/T/B/secret' } }, alert_thresholds: {} });
    const p = publicSettings(s);
    expect(JSON.stringify(p)).not.toMatch(/hunter2|secret/);
  });

  it('builds a Block Kit message with a button to the link', () => {
    const body = slackBody({ id: 'a1', rule: 'verify_unhealthy', subject_key: 'verify:b1', severity: 'critical', state: 'open', event: 'opened', message: 'Backup b1 is corrupted', link: 'https://x/backups/b1', at: '2026-01-01T00:00:00Z' });
    expect(body.text).toMatch(/CRITICAL: Backup b1 is corrupted/);
    expect(body.blocks.at(-1)).toMatchObject({ type: 'actions', elements: [{ type: 'button', url: 'https://x/backups/b1' }] });
  });
});
