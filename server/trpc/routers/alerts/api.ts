/** What the alert and report procedures need; tests provide their own `alerts` service. */
import { EngineError } from '../../../engine/errors';
import type { BackupEngine } from '../../../engine/engine';
import { publicSettings } from '../../../monitoring/alert-settings';
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
  settings(): Promise<ReturnType<typeof publicSettings>>;
  sendTest(actor: string): Promise<DeliveryResult[]>;
  report(days: number): Promise<HealthReport>;
  metrics(name: string, hours: number): Promise<{ latest: { name: string; labels?: Record<string, string>; value: number; at: string }[]; series: { labels: Record<string, string>; value: number; at: string }[] }>;
}

export function liveAlertsApi(engine: BackupEngine): AlertsApi {
  const db = engine.catalog.db;
  return {
    list: async (f) => (await listAlerts(db, f)).map(alertView),
    get: async (id) => alertView(await getAlert(db, id)),
    async acknowledge(id, actor) {
      const row = await acknowledgeAlert(db, id, actor, new Date());
      await engine.audit({ actor, action: 'alert.acknowledge', target: id });
      return alertView(row);
    },
    settings: async () => publicSettings(alertServiceFor(engine).settings),
    async sendTest(actor) {
      const r = await alertServiceFor(engine).sendTest(actor);
      await engine.audit({ actor, action: 'alert.test', outcome: r.every((d) => d.ok) ? 'success' : 'failure', details: { channels: r.map((d) => `${d.channel}:${d.ok ? 'ok' : d.error}`) } });
      return r;
    },
    report: (days) => healthReport(engine, { days }),
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
