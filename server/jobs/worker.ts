/**
 * ScheduleWorker: enqueues due runs, claims them (SKIP LOCKED) and runs each as a backup tagged with the
 * schedule's name. Many workers may share one catalog. The clock is injected, so tests need not wait.
 */
import { eq } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import { schedules } from '../../db/schema';
import type { DrillResult } from '../engine/restore/drill';
import type { BackupEngine } from '../engine/engine';
import { EngineError } from '../engine/errors';
import { PathPolicy } from '../engine/path-policy';
import type { BackupMetadata, BackupType, SecurityLevel } from '../engine/types';
import { claimRuns, enqueueDue, enqueueManual, finishRun, reapRuns, runningCount } from './queue';
import { getSchedule, getScheduleOwner, type RunRow, type ScheduleRow } from './schedule-store';

/** What the worker tells about finished runs (the AlertService implements it). */
export interface RunEvents {
  onBackupFinished(meta: BackupMetadata, opts?: { group?: string }): Promise<void>;
  onScheduleError(schedule: string, message: string): Promise<void>;
  onDrillFinished?(result: DrillResult): Promise<void>;
}

export interface WorkerOptions {
  now?: () => Date;
  workerId?: string;
  events?: RunEvents;
  /** A run started later than this after its due time is marked late (default 60 s). */
  lateAfterMs?: number;
  log?: (line: string) => void;
}

export interface RunOutcome {
  run_id: number;
  schedule: string;
  due_at: string;
  late: boolean;
  status: 'completed' | 'failed' | 'queued' | 'cancelled';
  backup_id: string | null;
  error: string | null;
}

export class ScheduleWorker {
  readonly id: string;
  private readonly now: () => Date;
  private readonly log: (line: string) => void;
  private readonly inflight = new Set<Promise<RunOutcome>>();

  constructor(
    private readonly engine: BackupEngine,
    private readonly opts: WorkerOptions = {},
  ) {
    this.id = opts.workerId ?? `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? (() => undefined);
  }

  private get db() {
    return this.engine.catalog.db;
  }

  /** One pass: reap, enqueue what is due, claim what fits under max_concurrent_backups, start it. */
  async tick(): Promise<Promise<RunOutcome>[]> {
    const now = this.now();
    await reapRuns(this.db, now, 10 * 60_000);
    await enqueueDue(this.db, now, this.opts.lateAfterMs ?? 60_000, this.log);
    const slots = this.engine.config.max_concurrent_backups - (await runningCount(this.db));
    const claimed = await claimRuns(this.db, this.id, slots, now);
    // Console and CLI changes reach storage within minutes (catalog-snapshot.ts); in the background, never failing the tick.
    void this.engine.snapshotCatalog();
    return claimed.map((run) => this.track(this.execute(run)));
  }

  /** A tick that waits for the runs it started (tests, `worker --once`). */
  async runOnce(): Promise<RunOutcome[]> {
    return Promise.all(await this.tick());
  }

  /** schedule run N: runs the schedule now in this process and waits for the backup. */
  async runNow(name: string): Promise<RunOutcome> {
    const s = await getSchedule(this.db, name);
    const run = await enqueueManual(this.db, s, this.now(), this.id);
    return this.track(this.execute(run, s));
  }

  /** Waits for every run this worker has started. */
  async drain(): Promise<void> {
    await Promise.allSettled([...this.inflight]);
  }

  private track(p: Promise<RunOutcome>): Promise<RunOutcome> {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p)).catch(() => undefined);
    return p;
  }

  /**
   * The path policy of whoever chose the schedule's paths, checked again at every run (a directory may have
   * become a symlink since): a console user's role rules; none for the local shell (CLI); admin rules for a
   * schedule made before owners were recorded. A refusal fails the run (audited, and alerted like any failure).
   */
  private async checkPaths(s: ScheduleRow): Promise<void> {
    const owner = await getScheduleOwner(this.db, s.id);
    if (owner?.via === 'cli') return;
    const actor = owner ?? { email: 'unknown', role: 'admin' as const };
    const policy = PathPolicy.forInstallation(this.engine, (e) => this.engine.audit(e));
    await policy.checkBackupSources(actor, s.paths, { action: 'schedule.run', auditActor: `schedule:${s.name}`, details: { schedule: s.name, owner: owner?.email ?? null } });
  }

  /**
   * A drill schedule: drills the newest completed backup of every source set that includes the schedule's
   * paths. It reads no source, so the path policy does not apply; a failed drill fails the run and alerts.
   */
  private async executeDrill(run: RunRow, s: ScheduleRow, base: Omit<RunOutcome, 'status' | 'backup_id' | 'error'>): Promise<RunOutcome> {
    try {
      const results = await this.engine.runDrills({ sources: s.paths.map((p) => path.resolve(p)), actor: `schedule:${s.name}` });
      for (const r of results) await this.opts.events?.onDrillFinished?.(r).catch((e: unknown) => this.log(`alerts: ${(e as Error).message}`));
      const failed = results.filter((r) => r.status === 'failed');
      const error = failed.length ? failed.map((r) => r.error).join('; ') : null;
      const backupId = (failed[0] ?? results[0])?.backup_id ?? null;
      await finishRun(this.db, run.id, { backupId, status: failed.length ? 'failed' : 'completed', error, finishedAt: this.now() });
      this.log(`schedule ${s.name}: ${results.length} drill(s), ${failed.length} failed`);
      return { ...base, status: failed.length ? 'failed' : 'completed', backup_id: backupId, error };
    } catch (err) {
      const message = (err as Error).message;
      await finishRun(this.db, run.id, { status: 'failed', error: message, finishedAt: this.now() });
      await this.opts.events?.onScheduleError(s.name, message).catch((e: unknown) => this.log(`alerts: ${(e as Error).message}`));
      return { ...base, status: 'failed', backup_id: null, error: message };
    }
  }

  private async execute(run: RunRow, known?: ScheduleRow): Promise<RunOutcome> {
    const s = known ?? (run.scheduleId ? (await this.db.select().from(schedules).where(eq(schedules.id, run.scheduleId)))[0] : undefined);
    const base = { run_id: run.id, schedule: s?.name ?? run.scheduleId ?? '(removed)', due_at: run.dueAt.toISOString(), late: run.late };
    if (!s) {
      // Not a failure of a backup: nobody wants this run any more.
      await finishRun(this.db, run.id, { status: 'cancelled', error: 'schedule removed', finishedAt: this.now() });
      return { ...base, status: 'cancelled', backup_id: null, error: 'schedule removed' };
    }
    if (s.backupType === 'drill') return this.executeDrill(run, s, base);
    let backupId: string | null = null;
    try {
      await this.checkPaths(s);
      const started = await this.engine.startBackup({
        paths: s.paths,
        backupType: s.backupType as BackupType,
        securityLevel: (s.securityLevel ?? undefined) as SecurityLevel | undefined,
        tags: [...new Set([s.name, ...s.tags])],
        retentionDays: s.retentionDays ?? undefined,
        priority: s.priority,
        actor: `schedule:${s.name}`,
        metadata: { schedule: s.name, schedule_run_id: run.id, due_at: run.dueAt.toISOString(), late: run.late },
      });
      backupId = started.backup_id;
      await finishRun(this.db, run.id, { backupId });
      const meta = await started.done;
      await finishRun(this.db, run.id, { status: 'completed', finishedAt: this.now() });
      await this.opts.events?.onBackupFinished(meta, { group: `schedule:${s.name}` }).catch((e: unknown) => this.log(`alerts: ${(e as Error).message}`));
      this.log(`schedule ${s.name}: backup ${meta.backup_id} completed`);
      return { ...base, status: 'completed', backup_id: meta.backup_id, error: null };
    } catch (err) {
      const message = (err as Error).message;
      if (err instanceof EngineError && err.code === 'CONFLICT' && !backupId) {
        // Too many backups running (another process): leave it queued for the next tick.
        await finishRun(this.db, run.id, { status: 'queued', claimedBy: null, startedAt: null });
        return { ...base, status: 'queued', backup_id: null, error: message };
      }
      await finishRun(this.db, run.id, { status: 'failed', error: message, finishedAt: this.now() });
      this.log(`schedule ${s.name}: ${message}`);
      const meta = backupId ? await this.engine.getBackup(backupId) : null;
      const events = this.opts.events;
      if (events) {
        await (meta ? events.onBackupFinished(meta, { group: `schedule:${s.name}` }) : events.onScheduleError(s.name, message)).catch((e: unknown) => this.log(`alerts: ${(e as Error).message}`));
      }
      return { ...base, status: 'failed', backup_id: backupId, error: message };
    }
  }
}
