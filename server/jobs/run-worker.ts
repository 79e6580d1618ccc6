/**
 * The worker loop: `plexichat-backup worker` and the console's server process. Ticks the schedule worker
 * every few seconds (with the watchers of continuous schedules and the daily maintenance) and runs the
 * health monitor every health_check_interval, until stopped.
 */
import type { BackupEngine } from '../engine/engine';
import { BackupHealthMonitor } from '../monitoring/health-monitor';
import { alertsFor, watchRestore } from '../monitoring/hooks';
import { ContinuousSchedules } from './continuous-schedules';
import { type MaintenanceExtra, MaintenanceJob } from './maintenance';
import { type RunOutcome, ScheduleWorker } from './worker';

export interface WorkerLoopOptions {
  once?: boolean;
  monitor?: boolean;
  tickMs?: number;
  log?: (line: string) => void;
  /** Stops the loop (default: SIGINT / SIGTERM, only for the CLI). */
  signal?: AbortSignal;
}

export interface WorkerLoop {
  stop(): Promise<void>;
  done: Promise<{ runs: RunOutcome[] }>;
}

/**
 * After the cleanup, the orphan sweep: marks objects the catalog does not know and deletes the ones an earlier
 * run marked. Its grace is an hour short of the interval, so each run deletes what the previous one marked.
 */
const ORPHAN_SWEEP: MaintenanceExtra = {
  name: 'orphan sweep',
  async run(engine) {
    const r = await engine.sweepOrphans({ graceHours: Math.max(1, engine.config.cleanup_interval_hours - 1), actor: 'system:maintenance' });
    const problems = r.problems.length ? `; problems: ${r.problems.join('; ')}` : '';
    return `${r.totals.deleted.objects} orphan object(s) deleted (${r.totals.deleted.bytes} bytes), ${r.totals.marked.objects} marked for the next run${problems}`;
  },
};

/**
 * Then optimize_storage_locations (the spec's daily maintenance): re-places replicas after locations changed,
 * copying at most optimize_budget_gb_per_run; what is left waits for the next run (or `storage optimize`).
 */
export const STORAGE_OPTIMIZE: MaintenanceExtra = {
  name: 'storage optimize',
  async run(engine) {
    const gb = engine.config.optimize_budget_gb_per_run;
    if (!(gb > 0)) return 'skipped (optimize_budget_gb_per_run is 0; run "plexichat-backup storage optimize" by hand)';
    const r = await engine.optimizeStorage({ budgetBytes: Math.round(gb * 1024 ** 3), actor: 'system:maintenance' });
    const left = r.shards_left ? `; ${r.shards_left} shard(s) (${r.bytes_left} bytes of copies) left for the next run: the budget of ${gb} GB was spent` : '; nothing left';
    const problems = r.problems.length ? `; problems: ${r.problems.slice(0, 5).join('; ')}` : '';
    return `${r.copies_added} copy(ies) added (${r.bytes_copied} bytes), ${r.copies_removed} removed${left}${problems}`;
  },
};

/**
 * Last, fresh planner statistics for the embedded catalog: PGlite has no autovacuum, so without them its
 * planner guesses row counts (50 where there are 10,000) and picks plans 100× slower — the dashboard's list
 * of completed backups sorted every row instead of reading 200 from an index (docs/operations.md, "Daily
 * maintenance"). About 8 s at 1 M shards, while other catalog clients wait. PostgreSQL's autovacuum does it there.
 */
export const CATALOG_STATISTICS: MaintenanceExtra = {
  name: 'catalog statistics',
  async run(engine) {
    if (engine.catalog.mode !== 'embedded') return 'skipped (PostgreSQL keeps its statistics with autovacuum)';
    const t0 = performance.now();
    await engine.catalog.pool.query('ANALYZE');
    return `ANALYZE of the embedded catalog in ${Math.round(performance.now() - t0)} ms`;
  },
};

export function startWorkerLoop(engine: BackupEngine, opts: WorkerLoopOptions = {}): WorkerLoop {
  const log = opts.log ?? ((l: string) => console.error(`[plexichat] ${l}`));
  const alerts = alertsFor(engine, log);
  const worker = new ScheduleWorker(engine, { events: alerts, log });
  const continuous = new ContinuousSchedules(engine, worker, { log, events: alerts });
  const maintenance = new MaintenanceJob(engine, worker.id, { log, extras: [ORPHAN_SWEEP, STORAGE_OPTIMIZE, CATALOG_STATISTICS] });
  let maintaining: Promise<unknown> | null = null;
  const monitor = opts.monitor !== false && engine.config.enable_health_monitoring ? new BackupHealthMonitor(engine, alerts, { log }) : null;
  const runs: RunOutcome[] = [];
  const stopper = new AbortController();
  opts.signal?.addEventListener('abort', () => stopper.abort(), { once: true });
  const collect = (ps: Promise<RunOutcome>[]) => ps.map((p) => p.then((r) => void runs.push(r)).catch(() => undefined));
  // Restores queued by a console that did not run them itself (restore_jobs): one more per tick, alerting like any restore.
  const restores = new Set<Promise<unknown>>();
  const claimRestores = async () => {
    for (const r of await engine.claimRestores({ limit: restores.size < 2 ? 1 : 0 })) {
      const p = watchRestore(engine, r.job.backup_id, () => r.done).catch((err: unknown) => log(`restore ${r.job.restore_id} failed: ${(err as Error).message}`));
      restores.add(p);
      void p.finally(() => restores.delete(p));
    }
  };

  const done = (async () => {
    if (opts.once) {
      await Promise.all(collect(await worker.tick()));
      await claimRestores();
      await Promise.all([...restores]);
      await monitor?.runCycle();
      return { runs };
    }
    monitor?.start();
    log(`worker ${worker.id} started`);
    while (!stopper.signal.aborted) {
      try {
        // Storage locations changed in the console (in any process) apply here too.
        await engine.refreshLocations().catch((err: unknown) => log(`reloading storage locations: ${(err as Error).message}`));
        collect(await worker.tick());
        await claimRestores();
        await continuous.tick();
        // The daily cleanup may take a while: it runs beside the loop, one at a time.
        maintaining ??= maintenance
          .tick()
          .catch((err: unknown) => log(`maintenance: ${(err as Error).message}`))
          .finally(() => (maintaining = null));
      } catch (err) {
        log(`worker tick failed: ${(err as Error).message}`);
      }
      // The abort listener goes when the pause ends: one left per tick would pile up for ever.
      await new Promise<void>((resolve) => {
        const wake = () => (clearTimeout(t), resolve());
        const t = setTimeout(() => (stopper.signal.removeEventListener('abort', wake), resolve()), opts.tickMs ?? tickFromEnv(log));
        stopper.signal.addEventListener('abort', wake, { once: true });
      });
    }
    await monitor?.stop();
    await maintaining;
    await continuous.stop().catch((err: unknown) => log(`stopping continuous watchers: ${(err as Error).message}`));
    await worker.drain();
    log(`worker ${worker.id} stopped`);
    return { runs };
  })();
  return {
    stop: async () => {
      stopper.abort();
      await done.catch(() => undefined);
    },
    done,
  };
}

/**
 * The pause between ticks: 5 s, or PLEXICHAT_WORKER_TICK_MS (100–60,000 ms; shorter ticks make tests and drills
 * quicker, longer ones make an idle worker cheaper). A value out of range is said and ignored.
 */
function tickFromEnv(log: (line: string) => void): number {
  const raw = process.env.PLEXICHAT_WORKER_TICK_MS;
  if (!raw) return 5000;
  const ms = Number(raw);
  if (Number.isInteger(ms) && ms >= 100 && ms <= 60_000) return ms;
  log(`PLEXICHAT_WORKER_TICK_MS=${raw} is not a whole number of milliseconds from 100 to 60000; ticking every 5000 ms.`);
  return 5000;
}

/** The CLI's `worker` command: runs until SIGINT/SIGTERM (or one pass with --once). */
export async function runWorker(engine: BackupEngine, opts: Omit<WorkerLoopOptions, 'signal'>): Promise<{ runs: RunOutcome[] }> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    return await startWorkerLoop(engine, { ...opts, signal: ac.signal }).done;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

type Holder = typeof globalThis & { __plexichatWorker?: WorkerLoop };

/** The console's embedded worker (one per server process, kept across hot reloads). */
export function startEmbeddedWorker(engine: BackupEngine): void {
  const holder = globalThis as Holder;
  if (holder.__plexichatWorker) return;
  holder.__plexichatWorker = startWorkerLoop(engine, {});
}
