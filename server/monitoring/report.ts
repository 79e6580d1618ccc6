/** The weekly health report: statistics, storage health and usage, verify results, restore drills and the period's alerts. */
import { desc, gte } from 'drizzle-orm';
import { backupVerifications } from '../../db/schema';
import type { BackupEngine } from '../engine/engine';
import { lastMaintenance } from '../jobs/maintenance';
import { alertView, listAlerts } from './alert-store';
import { failureRate } from './checks';

export async function healthReport(engine: BackupEngine, opts: { days?: number; now?: Date } = {}) {
  const now = opts.now ?? new Date();
  const days = opts.days ?? 7;
  const since = new Date(now.getTime() - days * 86_400_000);
  const db = engine.catalog.db;
  const [statistics, usage, health, rate, verifications, alerts, maintenance, drills] = await Promise.all([
    engine.getStatistics(),
    engine.getStorageUsage(),
    engine.getStorageHealth(),
    failureRate(db, since),
    db.select().from(backupVerifications).where(gte(backupVerifications.verifiedAt, since)).orderBy(desc(backupVerifications.verifiedAt)),
    listAlerts(db, { since, limit: 1000 }),
    lastMaintenance(engine),
    engine.listDrills({ since, limit: 1000 }),
  ]);
  const byStatus = (s: string) => verifications.filter((v) => v.status === s).length;
  return {
    period: { from: since.toISOString(), to: now.toISOString(), days },
    statistics,
    backups_in_period: rate,
    storage: { usage, health },
    verify: {
      checked: verifications.length,
      healthy: byStatus('healthy'),
      degraded: byStatus('degraded'),
      corrupted: byStatus('corrupted'),
      unhealthy: verifications.filter((v) => v.status !== 'healthy').map((v) => ({ backup_id: v.backupId, status: v.status, verified_at: v.verifiedAt.toISOString(), lost_shards: v.lostShards, bad_shards: v.badShards })),
    },
    alerts: {
      total: alerts.length,
      open: alerts.filter((a) => a.state === 'open').length,
      acknowledged: alerts.filter((a) => a.state === 'acknowledged').length,
      resolved: alerts.filter((a) => a.state === 'resolved').length,
      items: alerts.map(alertView),
    },
    /** Restore drills started in the period, newest first. */
    drills: {
      total: drills.length,
      passed: drills.filter((d) => d.status === 'passed').length,
      failed: drills.filter((d) => d.status === 'failed').length,
      /** MAXIMUM backups drilled without the key holders' shares (their `error` says how to run them). */
      skipped: drills.filter((d) => d.status === 'skipped').length,
      items: drills,
    },
    /** The last daily maintenance (expired-backup cleanup), or null before the first. */
    maintenance,
  };
}
export type HealthReport = Awaited<ReturnType<typeof healthReport>>;

const pct = (n: number | null) => (n === null ? 'n/a' : `${n.toFixed(1)}%`);

export function formatReport(r: HealthReport): string {
  const s = r.statistics;
  const lines = [
    `PlexiChat Backup health report, ${r.period.from.slice(0, 10)} – ${r.period.to.slice(0, 10)}`,
    '',
    `Backups: ${s.total_backups} total, ${s.completed_backups} completed, ${s.failed_backups} failed, success rate ${s.success_rate}`,
    `  in this period: ${r.backups_in_period.completed} completed, ${r.backups_in_period.failed} failed (${r.backups_in_period.percent.toFixed(1)}% failed)`,
    '',
    'Storage:',
    ...r.storage.usage.map((u) => {
      const h = r.storage.health.find((x) => x.name === u.name);
      return `  ${u.name} (${u.type}): ${pct(u.usage_percentage)} used, ${u.objects} objects, ${h?.reachable ? `reachable${h.latency_ms !== null ? ` (${h.latency_ms} ms)` : ''}` : `UNREACHABLE: ${h?.last_error ?? ''}`}`;
    }),
    '',
    `Verify: ${r.verify.checked} checked — ${r.verify.healthy} healthy, ${r.verify.degraded} degraded, ${r.verify.corrupted} corrupted`,
    ...r.verify.unhealthy.map((v) => `  ${v.backup_id}: ${v.status} (${v.lost_shards} lost, ${v.bad_shards} bad) at ${v.verified_at}`),
    '',
    `Restore drills: ${r.drills.total} (${r.drills.passed} passed, ${r.drills.failed} failed${r.drills.skipped ? `, ${r.drills.skipped} skipped` : ''})`,
    ...r.drills.items.slice(0, 50).map((d) => `  ${d.started_at}  ${d.status.padEnd(7)} ${d.backup_id} (${d.sources.join(', ')})  ${d.sample_percent}%  ${d.files_checked} file(s)  RTO ${d.rto_seconds === null ? 'n/a' : `${Math.round(d.rto_seconds)} s`}${d.error ? `  ${d.error}` : ''}`),
    '',
    `Alerts: ${r.alerts.total} (${r.alerts.open} open, ${r.alerts.acknowledged} acknowledged, ${r.alerts.resolved} resolved)`,
    ...r.alerts.items.slice(0, 50).map((a) => `  [${a.severity}] ${a.state.padEnd(12)} ${a.message}  ${a.link}`),
    '',
    r.maintenance
      ? `Maintenance: last cleanup ${r.maintenance.started_at} by ${r.maintenance.worker}: ${r.maintenance.error ? `FAILED: ${r.maintenance.error}` : `${r.maintenance.removed} expired backup(s) removed`}`
      : 'Maintenance: no cleanup has run yet (a worker runs it every cleanup_interval_hours)',
  ];
  return lines.join('\n');
}
