/** The Prometheus registry: gauges refreshed from the catalog at each scrape. */
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { getEngine } from '../../../server/context';
import { monitorGauges, updateMonitorGauges } from './monitor';

function build() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'plexichat_process_' });
  const g = (name: string, help: string, labelNames: string[] = []) => new Gauge({ name, help, labelNames, registers: [registry] });
  return {
    registry,
    backups: g('plexichat_backups', 'Backups in the catalog by status', ['status']),
    originalBytes: g('plexichat_backup_original_bytes', 'Bytes of source data protected by completed backups'),
    storedBytes: g('plexichat_backup_stored_bytes', 'Bytes stored (after dedup, compression, encryption), one copy'),
    uniqueShards: g('plexichat_unique_shards', 'Distinct shards stored'),
    compression: g('plexichat_compression_ratio', 'Average compression ratio of completed backups'),
    dedup: g('plexichat_dedup_ratio', 'Average share of each backup already stored (0–1)'),
    successRate: g('plexichat_backup_success_ratio', 'Completed / (completed + failed)'),
    throughput: g('plexichat_backup_throughput_mbps', 'Overall backup throughput, MB/s'),
    avgSeconds: g('plexichat_backup_average_duration_seconds', 'Average duration of completed backups'),
    duration: new Histogram({
      name: 'plexichat_backup_duration_seconds',
      help: 'Durations of the most recent (up to 1000) completed backups',
      buckets: [1, 5, 15, 60, 300, 900, 3600, 14400],
      registers: [registry],
    }),
    used: g('plexichat_storage_used_bytes', 'Bytes stored per location', ['location', 'type']),
    capacity: g('plexichat_storage_capacity_bytes', 'Configured capacity per location (absent when unlimited)', ['location', 'type']),
    objects: g('plexichat_storage_objects', 'Shard replicas per location', ['location', 'type']),
    healthy: g('plexichat_storage_healthy', '1 when the location is healthy', ['location', 'type']),
    // The spec's statistics under its names (docs/statistics.md); absent while undefined (no restore yet, no capacity known).
    spec: {
      total_backups_created: g('plexichat_total_backups_created', 'Backups recorded in the catalog, any status'),
      successful_backups: g('plexichat_successful_backups', 'Completed backups'),
      failed_backups: g('plexichat_failed_backups', 'Failed backups'),
      active_backups: g('plexichat_active_backups', 'Backups running now'),
      average_backup_time: g('plexichat_average_backup_time_seconds', 'Average duration of completed backups, seconds'),
      total_data_backed_up: g('plexichat_total_data_backed_up_bytes', 'Bytes of source data in completed backups'),
      storage_efficiency: g('plexichat_storage_efficiency', 'Bytes protected per byte stored (one copy)'),
      average_compression_ratio: g('plexichat_average_compression_ratio', 'Average compression ratio of completed backups'),
      average_restore_time: g('plexichat_average_restore_time_seconds', 'Average duration of completed restore jobs, seconds'),
      restore_error_rate: g('plexichat_restore_error_rate', 'Failed ÷ finished restore jobs'),
    },
    storageUsagePercentage: g('plexichat_storage_usage_percentage', 'Usage of the fullest storage location with a known capacity, percent'),
    monitor: monitorGauges(registry),
  };
}

type Metrics = ReturnType<typeof build>;
const holder = globalThis as typeof globalThis & { __plexichatMetrics?: Metrics };

export async function collectMetrics(): Promise<{ body: string; contentType: string }> {
  const m = (holder.__plexichatMetrics ??= build());
  const engine = await getEngine();
  const [s, usage, recent] = await Promise.all([engine.getStatistics(), engine.getStorageUsage(), engine.listBackups({ status: 'completed', limit: 1000 })]);
  m.backups.set({ status: 'completed' }, s.completed_backups);
  m.backups.set({ status: 'failed' }, s.failed_backups);
  m.backups.set({ status: 'running' }, s.running_backups);
  m.originalBytes.set(s.total_original_bytes);
  m.storedBytes.set(s.total_stored_bytes);
  m.uniqueShards.set(s.unique_shards);
  m.compression.set(s.average_compression_ratio);
  m.dedup.set(s.average_dedup_ratio);
  m.successRate.set(s.success_rate);
  m.throughput.set(s.backup_throughput_mbps);
  m.avgSeconds.set(s.average_backup_seconds);
  for (const [name, gauge] of Object.entries(m.spec)) {
    const v = s.statistics[name as keyof typeof m.spec];
    if (v === null) gauge.reset();
    else gauge.set(v);
  }
  if (s.storage_usage_percentage === null) m.storageUsagePercentage.reset();
  else m.storageUsagePercentage.set(s.storage_usage_percentage);
  m.duration.reset();
  for (const b of recent) m.duration.observe(b.duration_seconds);
  m.capacity.reset();
  for (const u of usage) {
    const labels = { location: u.name, type: u.type };
    m.used.set(labels, u.used_bytes);
    m.objects.set(labels, u.objects);
    m.healthy.set(labels, u.healthy ? 1 : 0);
    if (u.capacity_bytes !== null) m.capacity.set(labels, u.capacity_bytes);
  }
  await updateMonitorGauges(m.monitor, engine).catch(() => undefined);
  return { body: await m.registry.metrics(), contentType: m.registry.contentType };
}
