import { procedure } from '../../init';
import { dashboardSeries } from '../../lib/dashboard';

/** Everything the dashboard shows, in one round trip. */
export const get = procedure.query(async ({ ctx }) => {
  const engine = await ctx.services.engine();
  // Aggregates and one short page: nothing here grows with the number of backups or shards.
  const [statistics, series, recent, usage, health] = await Promise.all([
    engine.getStatistics(),
    engine.backupSeries(14),
    engine.listBackups({ limit: 8 }),
    engine.getStorageUsage(),
    engine.getStorageHealth(),
  ]);
  return {
    statistics,
    ...dashboardSeries(series, new Date(), 14, statistics.schedule_runs_not_started_at ?? []),
    recent,
    usage,
    health,
  };
});
