/**
 * The daily maintenance (the spec's `daily_maintenance`): removes the backups past their retention
 * (`cleanup_expired_backups`: each delete collects the shards only it referenced, under the row locks of
 * housekeeping.ts's collectShards) every `cleanup_interval_hours`, then runs its extras — in the worker loop
 * (run-worker.ts), `storage gc`, which deletes orphan objects and the shard rows no backup references
 * (those of failed and reaped backups) that its previous run marked. Every worker ticks it; one run per interval happens across all of them, claimed
 * with a conditional UPDATE of the `settings` row `maintenance:cleanup` (the same catalog-side exactly-once
 * idea as the schedule queue). The row also keeps the last outcome, for the console and `report`.
 */
import { sql } from 'drizzle-orm';
import type { BackupEngine } from '../engine/engine';

const KEY = 'maintenance:cleanup';

export interface MaintenanceOutcome {
  started_at: string;
  finished_at: string | null;
  worker: string;
  removed: number;
  /** What each further step reported (orphan sweep, storage optimize: what it moved and what it left). */
  steps?: { name: string; summary: string }[];
  error: string | null;
}

export interface MaintenanceExtra {
  /** A further step after the cleanup (e.g. the orphan sweep); its summary is logged. */
  name: string;
  run: (engine: BackupEngine) => Promise<string>;
}

export class MaintenanceJob {
  private readonly now: () => Date;
  private readonly log: (line: string) => void;

  constructor(
    private readonly engine: BackupEngine,
    private readonly workerId: string,
    private readonly opts: { now?: () => Date; log?: (line: string) => void; extras?: MaintenanceExtra[] } = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? (() => undefined);
  }

  private get db() {
    return this.engine.catalog.db;
  }

  /** Runs the maintenance if it is due and no other worker claimed it; null when it did not run. */
  async tick(): Promise<MaintenanceOutcome | null> {
    const hours = this.engine.config.cleanup_interval_hours;
    if (hours <= 0) return null;
    const now = this.now();
    if (!(await this.claim(now, hours))) return null;
    const outcome: MaintenanceOutcome = { started_at: now.toISOString(), finished_at: null, worker: this.workerId, removed: 0, error: null };
    try {
      const r = await this.engine.prune({}, { actor: 'system:maintenance' });
      outcome.removed = r.removed;
      this.log(`maintenance: removed ${r.removed} expired backup(s)`);
      for (const extra of this.opts.extras ?? []) {
        const summary = await extra.run(this.engine);
        (outcome.steps ??= []).push({ name: extra.name, summary });
        this.log(`maintenance: ${extra.name}: ${summary}`);
      }
    } catch (err) {
      outcome.error = (err as Error).message;
      this.log(`maintenance failed: ${outcome.error}; it runs again at the next interval, or run "plexichat-backup cleanup" now`);
    }
    outcome.finished_at = this.now().toISOString();
    await this.db.execute(sql`UPDATE settings SET value = ${JSON.stringify(outcome)}::jsonb, updated_at = now() WHERE key = ${KEY}`);
    return outcome;
  }

  /** True when this worker won the run of the current interval. */
  private async claim(now: Date, hours: number): Promise<boolean> {
    const claim = JSON.stringify({ started_at: now.toISOString(), finished_at: null, worker: this.workerId, removed: 0, error: null } satisfies MaintenanceOutcome);
    const inserted = await this.db.execute(sql`INSERT INTO settings (key, value) VALUES (${KEY}, ${claim}::jsonb) ON CONFLICT (key) DO NOTHING RETURNING key`);
    if (inserted.rows.length) return true;
    const due = new Date(now.getTime() - hours * 3_600_000).toISOString();
    const won = await this.db.execute(sql`
      UPDATE settings SET value = ${claim}::jsonb, updated_at = now()
      WHERE key = ${KEY} AND (value->>'started_at')::timestamptz <= ${due}::timestamptz
      RETURNING key`);
    return won.rows.length > 0;
  }
}

/** The last maintenance run, or null before the first. */
export async function lastMaintenance(engine: BackupEngine): Promise<MaintenanceOutcome | null> {
  const r = await engine.catalog.db.execute<{ value: MaintenanceOutcome }>(sql`SELECT value FROM settings WHERE key = ${KEY}`);
  return r.rows[0]?.value ?? null;
}
