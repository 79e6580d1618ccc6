/** Health-monitor gauges: the latest value of every monitor series, and open alerts by severity. */
import { Gauge, type Registry } from 'prom-client';
import type { BackupEngine } from '@/server/engine/engine';
import { latestSamples, openAlertCounts } from '../../../server/monitoring/metric-store';

export function monitorGauges(registry: Registry) {
  return {
    sample: new Gauge({ name: 'plexichat_health', help: 'Latest health-monitor samples (metric = series name, location when per location)', labelNames: ['metric', 'location'], registers: [registry] }),
    alerts: new Gauge({ name: 'plexichat_alerts_open', help: 'Open or acknowledged alerts by severity', labelNames: ['severity'], registers: [registry] }),
  };
}

export async function updateMonitorGauges(g: ReturnType<typeof monitorGauges>, engine: BackupEngine): Promise<void> {
  const db = engine.catalog.db;
  const [samples, open] = await Promise.all([latestSamples(db), openAlertCounts(db)]);
  g.sample.reset();
  for (const s of samples) g.sample.set({ metric: s.name, location: s.labels?.location ?? '' }, s.value);
  g.alerts.set({ severity: 'warning' }, open.warning);
  g.alerts.set({ severity: 'critical' }, open.critical);
}
