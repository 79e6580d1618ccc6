/**
 * Continuous schedules in the worker: one watcher per continuous schedule across all workers of an
 * installation. A worker holds a schedule's watcher under a lease in the catalog (`watcher_id`,
 * `watcher_seen_at`), renewed every tick; a lease not renewed for `leaseMs` (its worker died or lost the
 * catalog) is taken over by another worker. Each burst of changes becomes one run of the schedule (recorded
 * in schedule_runs like a cron run, so the console, alerts and max_concurrent_backups apply), `delay_seconds`
 * after the last change. The schedule's cron keeps running too: a safety net for changes a watcher cannot
 * see (network file systems, changes while no worker ran).
 */
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import { schedules } from '../../db/schema';
import type { BackupEngine } from '../engine/engine';
import { ContinuousWatcher } from './continuous';
import type { ScheduleRow } from './schedule-store';
import type { RunEvents, ScheduleWorker } from './worker';

export interface ContinuousOptions {
  /** A lease not renewed for this long is taken over (default 30 s, six worker ticks). */
  leaseMs?: number;
  now?: () => Date;
  log?: (line: string) => void;
  events?: Pick<RunEvents, 'onScheduleError'>;
}

interface Held {
  watcher: ContinuousWatcher;
  /** What the watcher was started with; a change restarts it. */
  signature: string;
}

const signatureOf = (s: ScheduleRow) => JSON.stringify([s.paths, s.delaySeconds]);

export class ContinuousSchedules {
  private readonly held = new Map<string, Held>();
  private readonly leaseMs: number;
  private readonly now: () => Date;
  private readonly log: (line: string) => void;

  constructor(
    private readonly engine: BackupEngine,
    private readonly worker: ScheduleWorker,
    private readonly opts: ContinuousOptions = {},
  ) {
    this.leaseMs = opts.leaseMs ?? 30_000;
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? (() => undefined);
  }

  private get db() {
    return this.engine.catalog.db;
  }

  /** Schedule names whose watcher runs in this worker. */
  get watching(): string[] {
    return [...this.held.keys()];
  }

  /** One pass: renew or take the leases this worker can hold, start and stop watchers to match. */
  async tick(): Promise<void> {
    const now = this.now();
    const rows = await this.db.select().from(schedules).where(and(eq(schedules.backupType, 'continuous'), eq(schedules.paused, false)));
    const wanted = new Set<string>();
    for (const s of rows) {
      if (!(await this.lease(s, now))) continue;
      wanted.add(s.name);
      const held = this.held.get(s.name);
      if (held && held.signature === signatureOf(s)) continue;
      if (held) await this.release(s.name, false);
      await this.startWatcher(s);
      if (!this.held.has(s.name)) wanted.delete(s.name);
    }
    // Paused, removed, no longer continuous, or taken over: stop watching (the lease is cleared only if still ours).
    for (const name of [...this.held.keys()]) if (!wanted.has(name)) await this.release(name, true);
  }

  /** Takes or renews the lease of a schedule; false when another live worker holds it. */
  private async lease(s: ScheduleRow, now: Date): Promise<boolean> {
    const expired = new Date(now.getTime() - this.leaseMs);
    const got = await this.db
      .update(schedules)
      .set({ watcherId: this.worker.id, watcherSeenAt: now })
      .where(and(eq(schedules.id, s.id), eq(schedules.paused, false), or(isNull(schedules.watcherId), eq(schedules.watcherId, this.worker.id), lt(schedules.watcherSeenAt, expired))))
      .returning({ id: schedules.id });
    return got.length > 0;
  }

  private async startWatcher(s: ScheduleRow): Promise<void> {
    const watcher = new ContinuousWatcher(this.engine, {
      paths: s.paths,
      delayMs: (s.delaySeconds ?? 60) * 1000,
      log: this.log,
      run: async () => {
        const r = await this.worker.runNow(s.name);
        this.log(`continuous ${s.name}: ${r.status}${r.backup_id ? ` ${r.backup_id}` : ''}${r.error ? ` (${r.error})` : ''}`);
      },
    });
    try {
      // The first run catches up with what changed while nobody watched; it is not awaited, the tick goes on.
      void watcher.start();
    } catch (err) {
      const message = `cannot watch ${s.paths.join(', ')}: ${(err as Error).message}`;
      this.log(`continuous ${s.name}: ${message}`);
      await watcher.stop();
      await this.db.update(schedules).set({ watcherId: null, watcherSeenAt: null }).where(and(eq(schedules.id, s.id), eq(schedules.watcherId, this.worker.id)));
      await this.opts.events?.onScheduleError(s.name, message).catch(() => undefined);
      return;
    }
    this.held.set(s.name, { watcher, signature: signatureOf(s) });
    this.log(`continuous ${s.name}: watching ${s.paths.join(', ')} (delay ${s.delaySeconds ?? 60} s)`);
  }

  /** Stops a watcher; with `clearLease`, gives the lease up so another worker can take it at once. */
  private async release(name: string, clearLease: boolean): Promise<void> {
    const held = this.held.get(name);
    this.held.delete(name);
    await held?.watcher.stop();
    if (clearLease) await this.db.update(schedules).set({ watcherId: null, watcherSeenAt: null }).where(and(eq(schedules.name, name), eq(schedules.watcherId, this.worker.id)));
  }

  /** Stops every watcher of this worker (waiting for a run in progress) and gives their leases up. */
  async stop(): Promise<void> {
    for (const name of [...this.held.keys()]) await this.release(name, true);
    await this.db.execute(sql`UPDATE schedules SET watcher_id = NULL, watcher_seen_at = NULL WHERE watcher_id = ${this.worker.id}`);
  }
}
