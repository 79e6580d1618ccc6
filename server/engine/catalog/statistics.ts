/**
 * get_backup_statistics: the catalog's figures under the spec's names (`total_backups_created`,
 * `successful_backups`, … nested as `statistics` and `performance_metrics` the way the spec reads them, and
 * flat for the health checks that read `storage_usage_percentage` directly), plus the console's older names
 * (`total_backups`, `completed_backups`, …) and the restore figures from restore_jobs. docs/statistics.md
 * defines each one.
 */
import { sql } from 'drizzle-orm';
import type { EngineContext } from '../context';
import { getStorageUsage } from '../maintenance/housekeeping';
import { restoreJobStatistics } from '../restore/restore-jobs';
import { usageTotals } from './usage-totals';
import type { BackupStatistics } from '../types';

const round = (v: number, digits: number) => Math.round(v * 10 ** digits) / 10 ** digits;

export async function getStatistics(ctx: EngineContext): Promise<BackupStatistics> {
  const [r] = (
    await ctx.db.execute<Record<string, number | null>>(sql`
    SELECT count(*) AS total,
      count(*) FILTER (WHERE status = 'completed') AS completed,
      count(*) FILTER (WHERE status = 'failed') AS failed,
      count(*) FILTER (WHERE status = 'running') AS running,
      count(*) FILTER (WHERE status = 'pending') AS pending,
      COALESCE(sum(original_size) FILTER (WHERE status = 'completed'), 0) AS original,
      avg(compression_ratio) FILTER (WHERE status = 'completed') AS comp,
      avg(dedup_ratio) FILTER (WHERE status = 'completed') AS dedup,
      avg(duration_ms) FILTER (WHERE status = 'completed') AS dur,
      COALESCE(sum(original_size) FILTER (WHERE status = 'completed'), 0) / GREATEST(COALESCE(sum(duration_ms) FILTER (WHERE status = 'completed'), 0), 1) AS bpms
    FROM backups`)
  ).rows;
  const [restores, usage, notStarted, totals] = await Promise.all([restoreJobStatistics(ctx.db), getStorageUsage(ctx), scheduleRunsNotStarted(ctx), usageTotals(ctx.db)]);
  const num = (v: unknown) => Number(v ?? 0);
  const total = num(r?.total);
  const completed = num(r?.completed);
  const failed = num(r?.failed) + notStarted.total;
  const finished = completed + failed;
  const original = num(r?.original);
  const stored = totals.shards.bytes;
  const averageBackupTime = round(num(r?.dur) / 1000, 2);
  const throughput = round((num(r?.bpms) * 1000) / 1048576, 2);
  const compression = round(num(r?.comp ?? 1), 3);
  // The fullest location with a known capacity: what "storage usage high" alerts on. Null when no location has one.
  const percents = usage.map((u) => u.usage_percentage).filter((p): p is number => p !== null);
  const storageUsage = percents.length ? Math.max(...percents) : null;
  const restoreFinished = restores.completed + restores.failed;
  const restoreErrorRate = restoreFinished ? round(restores.failed / restoreFinished, 4) : null;
  const averageRestoreTime = restores.averageSeconds === null ? null : round(restores.averageSeconds, 2);
  const statistics = {
    total_backups_created: total,
    successful_backups: completed,
    failed_backups: failed,
    active_backups: num(r?.running),
    queued_backups: num(r?.pending),
    average_backup_time: averageBackupTime,
    total_data_backed_up: original,
    // Bytes protected per byte stored (dedup and compression together); null until something is stored.
    storage_efficiency: stored > 0 ? round(original / stored, 3) : null,
    average_compression_ratio: compression,
    total_restores: restores.total,
    successful_restores: restores.completed,
    failed_restores: restores.failed,
    average_restore_time: averageRestoreTime,
    restore_error_rate: restoreErrorRate,
  };
  return {
    ...statistics,
    statistics,
    performance_metrics: {
      backup_throughput_mbps: throughput,
      average_backup_time: averageBackupTime,
      average_restore_time: averageRestoreTime,
      restore_error_rate: restoreErrorRate,
      backup_error_rate: finished ? round(failed / finished, 4) : null,
    },
    storage_usage_percentage: storageUsage,
    // The console's names (dashboard, health report, Prometheus gauges).
    total_backups: total,
    completed_backups: completed,
    running_backups: num(r?.running),
    total_original_bytes: original,
    total_stored_bytes: stored,
    unique_shards: totals.shards.objects,
    average_dedup_ratio: round(num(r?.dedup ?? 1), 3),
    average_backup_seconds: averageBackupTime,
    backup_throughput_mbps: throughput,
    success_rate: finished ? round(completed / finished, 4) : 1,
    schedule_runs_not_started: notStarted.total,
    schedule_runs_not_started_at: notStarted.recent,
  };
}

/** Backup schedules' runs that failed with no backup (drill schedules excluded): all time, and when, for the last 14 days. */
async function scheduleRunsNotStarted(ctx: EngineContext): Promise<{ total: number; recent: string[] }> {
  // Runs of removed schedules count too (their schedule_id is null): removing a schedule does not rewrite history.
  const base = sql`FROM schedule_runs r WHERE r.status = 'failed' AND r.backup_id IS NULL AND NOT r.drill`;
  const [n] = (await ctx.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n ${base}`)).rows;
  const since = new Date(ctx.now().getTime() - 14 * 86_400_000).toISOString();
  const rows = await ctx.db.execute<{ at: string | Date }>(sql`SELECT COALESCE(r.finished_at, r.due_at) AS at ${base} AND COALESCE(r.finished_at, r.due_at) >= ${since}::timestamptz ORDER BY 1 DESC LIMIT 1000`);
  return { total: Number(n?.n ?? 0), recent: rows.rows.map((x) => new Date(x.at).toISOString()) };
}
