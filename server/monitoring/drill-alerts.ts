/**
 * Alert rules of restore drills. A failed drill is critical (the backup could not be restored as recorded);
 * a drill whose measured RTO exceeds `restore_time_objective_minutes` is a warning. Both are keyed by the
 * backup's sources, so the next passing (or fast enough) drill of the same sources resolves them, and both
 * link to the drilled backup in the console. A skipped drill (a MAXIMUM backup drilled without the quorum's
 * shares) neither raises nor resolves anything: it read nothing.
 */
import type { DrillResult } from '../engine/restore/drill';
import type { AlertSink } from './alert-sink';

export async function alertOnDrillResult(alerts: AlertSink, r: DrillResult): Promise<void> {
  const group = r.sources.join(',') || r.backup_id;
  const failedKey = `drill_failed:${group}`;
  const slowKey = `drill_rto:${group}`;
  const path = `/backups/${r.backup_id}`;
  if (r.status === 'skipped') return;
  if (r.status === 'failed') {
    await alerts.raise({
      rule: 'drill_failed',
      subjectKey: failedKey,
      severity: 'critical',
      message: `Restore drill of backup ${r.backup_id} (${group}) failed: ${r.error ?? 'unknown error'}`,
      path,
      details: { drill_id: r.drill_id, backup_id: r.backup_id, sources: r.sources },
    });
    return; // a failed drill's time says nothing about the RTO
  }
  await alerts.resolve(failedKey, `drill ${r.drill_id} of ${r.backup_id} passed`);
  const objective = (await alerts.refresh()).thresholds.restore_time_objective_minutes * 60;
  if (r.rto_seconds <= objective) {
    await alerts.resolve(slowKey, `drill ${r.drill_id}: RTO ${Math.round(r.rto_seconds)} s`);
    return;
  }
  await alerts.raise({
    rule: 'drill_rto',
    subjectKey: slowKey,
    severity: 'warning',
    message: `Restore drill of backup ${r.backup_id} (${group}) measured an RTO of ${Math.round(r.rto_seconds / 60)} min${r.sample_percent < 100 ? ` (extrapolated from a ${r.sample_percent} % sample)` : ''}, above the objective of ${objective / 60} min (alerts.thresholds.restore_time_objective_minutes)`,
    path,
    details: { drill_id: r.drill_id, rto_seconds: r.rto_seconds, objective_seconds: objective },
  });
}
