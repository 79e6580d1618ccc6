/**
 * The dashboard's time series, from the catalog's aggregates over recent backups (engine `backupSeries`:
 * SQL, not backup rows). Pure: `now` is passed in.
 */
import type { BackupSeries, DayCounts, WindowCounts } from '../../engine/catalog/backup-series';

const DAY = 86_400_000;

export interface Window extends WindowCounts {
  success_rate: number | null;
}

/** `notStartedAt`: scheduled runs that failed before a backup existed (statistics' schedule_runs_not_started_at): failures too. */
function window(w: WindowCounts, since: number, notStartedAt: string[]): Window {
  const failed = w.failed + notStartedAt.filter((at) => Date.parse(at) >= since).length;
  const finished = w.completed + failed;
  return { total: w.total, completed: w.completed, failed, success_rate: finished ? w.completed / finished : null, bytes: w.bytes };
}

export function dashboardSeries(s: BackupSeries, now: Date, days = 14, notStartedAt: string[] = []) {
  const end = now.getTime();
  const buckets = new Map<string, DayCounts>();
  for (let i = days - 1; i >= 0; i--) {
    const day = new Date(end - i * DAY).toISOString().slice(0, 10);
    buckets.set(day, { day, completed: 0, failed: 0, bytes: 0 });
  }
  for (const d of s.days) {
    const bucket = buckets.get(d.day);
    if (bucket) Object.assign(bucket, { completed: d.completed, failed: d.failed, bytes: d.bytes });
  }
  for (const at of notStartedAt) {
    const bucket = buckets.get(at.slice(0, 10));
    if (bucket) bucket.failed++;
  }
  return {
    last24h: window(s.last24h, end - DAY, notStartedAt),
    last7d: window(s.last7d, end - 7 * DAY, notStartedAt),
    perDay: [...buckets.values()],
    throughput: s.throughput,
  };
}
