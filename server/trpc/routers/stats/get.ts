import { procedure } from '../../init';
import { dashboardSeries } from '../../lib/dashboard';

/** Everything the dashboard shows, in one round trip. */
export const get = procedure.query(async ({ ctx }) => {
  const engine = await ctx.services.engine();
  const [statistics, recentMany, usage, health] = await Promise.all([
    engine.getStatistics(),
    engine.listBackups({ limit: 1000 }),
    engine.getStorageUsage(),
    engine.getStorageHealth(),
  ]);
  return {
    statistics,
    ...dashboardSeries(recentMany, new Date(), 14, statistics.schedule_runs_not_started_at ?? []),
    recent: recentMany.slice(0, 8),
    usage,
    health,
  };
});
