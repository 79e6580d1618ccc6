/** The dashboard's time series, derived from recent backups (pure: `now` is passed in). */
import type { BackupMetadata } from '../../engine/types';

const DAY = 86_400_000;

export interface DayBucket {
  day: string; // YYYY-MM-DD (UTC)
  completed: number;
  failed: number;
  bytes: number;
}

export interface ThroughputPoint {
  at: string;
  backup_id: string;
  mbps: number;
  bytes: number;
}

export interface Window {
  total: number;
  completed: number;
  failed: number;
  success_rate: number | null;
  bytes: number;
}

/** `notStartedAt`: scheduled runs that failed before a backup existed (statistics' schedule_runs_not_started_at): failures too. */
function window(items: BackupMetadata[], since: number, notStartedAt: string[]): Window {
  const inside = items.filter((b) => Date.parse(b.created_at) >= since);
  const completed = inside.filter((b) => b.status === 'completed');
  const failed = inside.filter((b) => b.status === 'failed').length + notStartedAt.filter((at) => Date.parse(at) >= since).length;
  const finished = completed.length + failed;
  return {
    total: inside.length,
    completed: completed.length,
    failed,
    success_rate: finished ? completed.length / finished : null,
    bytes: completed.reduce((s, b) => s + b.original_size, 0),
  };
}

export function dashboardSeries(items: BackupMetadata[], now: Date, days = 14, notStartedAt: string[] = []) {
  const end = now.getTime();
  const buckets = new Map<string, DayBucket>();
  for (let i = days - 1; i >= 0; i--) {
    const day = new Date(end - i * DAY).toISOString().slice(0, 10);
    buckets.set(day, { day, completed: 0, failed: 0, bytes: 0 });
  }
  for (const b of items) {
    const bucket = buckets.get(b.created_at.slice(0, 10));
    if (!bucket) continue;
    if (b.status === 'completed') {
      bucket.completed++;
      bucket.bytes += b.original_size;
    } else if (b.status === 'failed') bucket.failed++;
  }
  for (const at of notStartedAt) {
    const bucket = buckets.get(at.slice(0, 10));
    if (bucket) bucket.failed++;
  }
  const throughput: ThroughputPoint[] = items
    .filter((b) => b.status === 'completed' && b.completed_at && Date.parse(b.completed_at) >= end - days * DAY)
    .map((b) => ({ at: b.completed_at!, backup_id: b.backup_id, mbps: b.throughput_mbps, bytes: b.original_size }))
    .sort((a, b) => a.at.localeCompare(b.at));
  return {
    last24h: window(items, end - DAY, notStartedAt),
    last7d: window(items, end - 7 * DAY, notStartedAt),
    perDay: [...buckets.values()],
    throughput,
  };
}
