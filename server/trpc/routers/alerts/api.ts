/** What the alert and report procedures need; tests provide their own `alerts` service. */
import { EngineError } from '../../../engine/errors';
import type { BackupEngine } from '../../../engine/engine';
import { type AlertSettings, publicSettings, type PublicAlertSettings } from '../../../monitoring/alert-settings';
import type { SettingsSource } from '../../../monitoring/alert-service';
import type { AlertSettingsPatch } from '../../../monitoring/alert-settings-store';
import { openAlertHistory, type OpenAlertsPoint } from '../../../monitoring/alert-history';
import { acknowledgeAlert, type AlertFilter, type AlertView, alertView, getAlert, listAlerts } from '../../../monitoring/alert-store';
import type { DeliveryResult } from '../../../monitoring/channels';
import { alertsFor as alertServiceFor } from '../../../monitoring/hooks';
import { history, latestSamples } from '../../../monitoring/metric-store';
import { healthReport, type HealthReport } from '../../../monitoring/report';
import type { Services } from '../../services/types';

export interface AlertsApi {
  list(filter: AlertFilter): Promise<AlertView[]>;
  get(id: string): Promise<AlertView>;
  acknowledge(id: string, actor: string): Promise<AlertView>;
  settings(): Promise<AlertSettingsView>;
  updateSettings(patch: AlertSettingsPatch, actor: string): Promise<AlertSettingsView>;
  resetSettings(actor: string): Promise<AlertSettingsView>;
  sendTest(actor: string): Promise<DeliveryResult[]>;
  report(days: number): Promise<HealthReport>;
  /** Open alerts by severity at evenly spaced instants over the last `hours`. */
  history(hours: number): Promise<OpenAlertsPoint[]>;
  metrics(name: string, hours: number): Promise<{ latest: { name: string; labels?: Record<string, string>; value: number; at: string }[]; series: { labels: Record<string, string>; value: number; at: string }[] }>;
}

/** `file_keys`: the configuration-file keys that hold alert settings (none: the built-in defaults apply). */
export type AlertSettingsView = PublicAlertSettings & { origin: SettingsSource & { file_keys: string[] } };

/** What the audit trail keeps of a settings change: which channels are on, never a secret. */
const auditSummary = (s: AlertSettings) => ({ email: s.email.enabled, slack: s.slack.enabled, webhook: s.webhook.enabled, thresholds: s.thresholds });

export function liveAlertsApi(engine: BackupEngine): AlertsApi {
  const db = engine.catalog.db;
  const { alerts, alert_thresholds } = engine.config;
  const fileKeys = [Object.keys(alerts ?? {}).length ? 'alerts' : null, Object.keys(alert_thresholds ?? {}).length ? 'alert_thresholds' : null].filter((k): k is string => k !== null);
  const view = (s: AlertSettings, origin: SettingsSource): AlertSettingsView => ({ ...publicSettings(s), origin: { ...origin, file_keys: fileKeys } });
  return {
    list: async (f) => (await listAlerts(db, f)).map(alertView),
    get: async (id) => alertView(await getAlert(db, id)),
    async acknowledge(id, actor) {
      const row = await acknowledgeAlert(db, id, actor, new Date());
      await engine.audit({ actor, action: 'alert.acknowledge', target: id });
      return alertView(row);
    },
    async settings() {
      const svc = alertServiceFor(engine);
      return view(await svc.refresh(true), svc.origin);
    },
    async updateSettings(patch, actor) {
      const svc = alertServiceFor(engine);
      try {
        const s = await svc.updateSettings(patch, actor);
        await engine.audit({ actor, action: 'alert.settings.update', details: auditSummary(s) });
        return view(s, svc.origin);
      } catch (err) {
        await engine.audit({ actor, action: 'alert.settings.update', outcome: 'failure', details: { error: (err as Error).message } });
        throw err;
      }
    },
    async resetSettings(actor) {
      const svc = alertServiceFor(engine);
      const s = await svc.resetSettings();
      await engine.audit({ actor, action: 'alert.settings.reset', details: auditSummary(s) });
      return view(s, svc.origin);
    },
    async sendTest(actor) {
      const r = await alertServiceFor(engine).sendTest(actor);
      await engine.audit({ actor, action: 'alert.test', outcome: r.every((d) => d.ok) ? 'success' : 'failure', details: { channels: r.map((d) => `${d.channel}:${d.ok ? 'ok' : d.error}`) } });
      return r;
    },
    report: (days) => healthReport(engine, { days }),
    history: (hours) => openAlertHistory(db, hours, new Date()),
    async metrics(name, hours) {
      const [latest, series] = await Promise.all([latestSamples(db), history(db, name, new Date(Date.now() - hours * 3_600_000))]);
      return { latest, series };
    },
  };
}

function isEngine(e: unknown): e is BackupEngine {
  return typeof e === 'object' && e !== null && 'catalog' in e && 'config' in e;
}

export async function alertsApiFor(services: Services & { alerts?: () => Promise<AlertsApi> }): Promise<AlertsApi> {
  if (services.alerts) return services.alerts();
  const engine = await services.engine();
  if (!isEngine(engine)) throw new EngineError('UNAVAILABLE', 'Alerts are not available in this server.');
  return liveAlertsApi(engine);
}
