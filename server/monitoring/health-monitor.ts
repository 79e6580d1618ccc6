/**
 * BackupHealthMonitor: every health_check_interval seconds, checks storage (usage and reachability), the
 * failure rate of recent backups, schedules that did not run, and re-verifies a sample of completed
 * backups (so each is verified within rolling_verify_days). Results go to metric_samples and to alerts.
 */
import { sql } from 'drizzle-orm';
import type { BackupEngine } from '../engine/engine';
import { readKeysSetting } from '../engine/keys/key-rotation';
import { ADOPTED_KEY } from '../engine/setup';
import type { AlertService } from './alert-service';
import { openSubjects } from './alert-store';
import { failureRate, missedSchedules, verifySample } from './checks';
import { pruneSamples, recordSamples, type Sample } from './metric-store';

export interface MonitorOptions {
  now?: () => Date;
  log?: (line: string) => void;
  /** Verify data bytes too (slower) in the rolling verify. */
  readData?: boolean;
}

export interface CycleReport {
  at: string;
  samples: number;
  verified: { backup_id: string; status: string }[];
  errors: string[];
}

const SAMPLE_RETENTION_MS = 30 * 86_400_000;

export class BackupHealthMonitor {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<CycleReport> | null = null;
  private readonly now: () => Date;
  private readonly log: (line: string) => void;

  constructor(
    private readonly engine: BackupEngine,
    private readonly alerts: AlertService,
    private readonly opts: MonitorOptions = {},
  ) {
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? (() => undefined);
  }

  private get db() {
    return this.engine.catalog.db;
  }

  /** Cycles every health_check_interval seconds from now (`runCycle` runs one at once). */
  start(): void {
    if (this.timer) return;
    const every = this.engine.config.health_check_interval * 1000;
    this.timer = setInterval(() => void this.runCycle(), every);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** One cycle (never two at once); each check is independent, so one failing does not stop the rest. */
  runCycle(): Promise<CycleReport> {
    this.running ??= this.cycle().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async cycle(): Promise<CycleReport> {
    const now = this.now();
    const samples: Sample[] = [];
    const errors: string[] = [];
    const verified: CycleReport['verified'] = [];
    const step = async (name: string, fn: () => Promise<void>) => {
      try {
        await fn();
      } catch (err) {
        errors.push(`${name}: ${(err as Error).message}`);
        this.log(`health ${name}: ${(err as Error).message}`);
      }
    };
    await this.alerts.refresh();
    await step('storage usage', () => this.checkUsage(samples));
    await step('storage health', () => this.checkHealth(samples));
    await step('failure rate', () => this.checkFailureRate(samples, now));
    await step('schedules', () => this.checkSchedules(samples, now));
    await step('rolling verify', () => this.rollingVerify(samples, verified));
    await step('catalog', () => this.checkCatalog());
    await step('keys', () => this.checkKeyRotation(now));
    await step('statistics', async () => {
      const s = await this.engine.getStatistics();
      samples.push(
        { name: 'backups_total', value: s.total_backups },
        { name: 'backups_failed', value: s.failed_backups },
        { name: 'backup_success_rate', value: s.success_rate },
        { name: 'stored_bytes', value: s.total_stored_bytes },
      );
    });
    await step('record', async () => {
      await recordSamples(this.db, samples, now);
      await pruneSamples(this.db, new Date(now.getTime() - SAMPLE_RETENTION_MS));
    });
    return { at: now.toISOString(), samples: samples.length, verified, errors };
  }

  private async checkUsage(samples: Sample[]): Promise<void> {
    const t = this.alerts.thresholds;
    for (const u of await this.engine.getStorageUsage()) {
      const labels = { location: u.name };
      samples.push({ name: 'storage_used_bytes', labels, value: u.used_bytes });
      if (u.usage_percentage === null) continue;
      samples.push({ name: 'storage_usage_percent', labels, value: u.usage_percentage });
      const key = `storage:${u.name}`;
      if (u.usage_percentage < t.storage_usage_warning) {
        await this.alerts.resolve(key, `usage ${u.usage_percentage.toFixed(1)}%`);
        continue;
      }
      const severity = u.usage_percentage >= t.storage_usage_critical ? 'critical' : 'warning';
      await this.alerts.raise({
        rule: 'storage_usage',
        subjectKey: key,
        severity,
        message: `Storage location ${u.name} is ${u.usage_percentage.toFixed(1)}% full (${severity} threshold ${severity === 'critical' ? t.storage_usage_critical : t.storage_usage_warning}%)`,
        path: `/storage/${encodeURIComponent(u.name)}`,
        details: { used_bytes: u.used_bytes, capacity_bytes: u.capacity_bytes, usage_percentage: u.usage_percentage },
      });
    }
  }

  private async checkHealth(samples: Sample[]): Promise<void> {
    for (const h of await this.engine.getStorageHealth()) {
      const labels = { location: h.name };
      samples.push({ name: 'location_reachable', labels, value: h.reachable ? 1 : 0 });
      if (h.latency_ms !== null) samples.push({ name: 'location_latency_ms', labels, value: h.latency_ms });
      const key = `location:${h.name}`;
      if (h.reachable) await this.alerts.resolve(key, 'reachable again');
      else
        await this.alerts.raise({
          rule: 'location_unhealthy',
          subjectKey: key,
          severity: 'critical',
          message: `Storage location ${h.name} is unreachable: ${h.last_error ?? 'no answer'}`,
          path: `/storage/${encodeURIComponent(h.name)}`,
        });
    }
  }

  private async checkFailureRate(samples: Sample[], now: Date): Promise<void> {
    const t = this.alerts.thresholds;
    const hours = this.alerts.settings.failure_rate_window_hours;
    const r = await failureRate(this.db, new Date(now.getTime() - hours * 3_600_000));
    samples.push({ name: 'backup_failure_rate', value: r.percent });
    if (r.percent < t.backup_failure_rate_warning || r.failed === 0) {
      await this.alerts.resolve('failure_rate', `failure rate ${r.percent.toFixed(1)}%`);
      return;
    }
    const severity = r.percent >= t.backup_failure_rate_critical ? 'critical' : 'warning';
    await this.alerts.raise({
      rule: 'failure_rate',
      subjectKey: 'failure_rate',
      severity,
      message: `${r.failed} of ${r.failed + r.completed} backups in the last ${hours} h failed (${r.percent.toFixed(1)}%, ${severity} threshold ${severity === 'critical' ? t.backup_failure_rate_critical : t.backup_failure_rate_warning}%)`,
      path: null,
      details: r,
    });
  }

  private async checkSchedules(samples: Sample[], now: Date): Promise<void> {
    const grace = this.alerts.settings.schedule_missed_after_seconds * 1000;
    const missed = await missedSchedules(this.db, now, grace);
    samples.push({ name: 'schedules_missed', value: missed.length });
    const names = new Set(missed.map((m) => m.name));
    for (const m of missed) {
      await this.alerts.raise({
        rule: 'schedule_missed',
        subjectKey: `schedule_missed:${m.name}`,
        severity: 'warning',
        message: `Schedule ${m.name} did not run at ${m.due_at.toISOString()} (no worker picked it up)`,
        path: null,
        details: { schedule: m.name, due_at: m.due_at.toISOString() },
      });
    }
    for (const key of await openSubjects(this.db, 'schedule_missed:')) if (!names.has(key.slice('schedule_missed:'.length))) await this.alerts.resolve(key, 'schedule ran');
  }

  /** key_rotation_days: the master key is older than the policy allows, or a rotation was left unfinished. */
  private async checkKeyRotation(now: Date): Promise<void> {
    const setting = await readKeysSetting(this.engine.catalog);
    const r = await this.db.execute<{ created_at: string | null }>(sql`SELECT value->>'created_at' AS created_at FROM settings WHERE key = 'repository'`);
    const since = setting?.rotated_at ?? r.rows[0]?.created_at;
    const days = this.engine.config.key_rotation_days;
    const ageDays = since ? (now.getTime() - Date.parse(since)) / 86_400_000 : 0;
    const unfinished = setting !== null && setting.rotated_at === null;
    if (!unfinished && ageDays <= days) {
      await this.alerts.resolve('keys:rotation', 'master key rotated');
      return;
    }
    await this.alerts.raise({
      rule: 'key_rotation_due',
      subjectKey: 'keys:rotation',
      severity: 'warning',
      message: unfinished
        ? `A master key rotation to ${setting.master_key} has not finished: keep the replaced key configured and run plexichat-backup keys rotate again.`
        : `The master key ${this.engine.masterKeys.current} is ${Math.floor(ageDays)} days old (key_rotation_days is ${days}): run plexichat-backup keys rotate.`,
      path: null,
      details: { age_days: Math.floor(ageDays), key_rotation_days: days, unfinished },
    });
  }

  /** A catalog created over an existing repository lists none of its earlier backups until recover-catalog runs. */
  private async checkCatalog(): Promise<void> {
    const r = await this.db.execute<{ at: string }>(sql`SELECT value->>'at' AS at FROM settings WHERE key = ${ADOPTED_KEY}`);
    const at = r.rows[0]?.at;
    if (!at) {
      await this.alerts.resolve('catalog:not_recovered', 'recover-catalog ran');
      return;
    }
    await this.alerts.raise({
      rule: 'catalog_not_recovered',
      subjectKey: 'catalog:not_recovered',
      severity: 'critical',
      message: `The catalog was created on ${at} over storage that already holds this repository: its earlier backups are not listed (and storage gc refuses to run) until you run plexichat-backup recover-catalog.`,
      path: null,
    });
  }

  private async rollingVerify(samples: Sample[], verified: CycleReport['verified']): Promise<void> {
    const periodS = this.alerts.settings.rolling_verify_days * 86_400;
    const intervalS = this.engine.config.health_check_interval;
    const probe = await verifySample(this.db, 0);
    const size = probe.completed ? Math.max(1, Math.ceil((probe.completed * intervalS) / periodS)) : 0;
    const { ids } = await verifySample(this.db, size);
    for (const id of ids) {
      try {
        const r = await this.engine.verifyBackup(id, { readData: this.opts.readData ?? false, actor: 'system:health-monitor' });
        await this.alerts.onVerify(r);
        verified.push({ backup_id: id, status: r.status });
      } catch (err) {
        this.log(`rolling verify ${id}: ${(err as Error).message}`);
      }
    }
    // A verify alert of a backup that has since been deleted has nothing left to fix.
    for (const key of await openSubjects(this.db, 'verify:')) {
      if (!(await this.engine.getBackup(key.slice('verify:'.length)))) await this.alerts.resolve(key, 'backup deleted');
    }
    samples.push({ name: 'rolling_verify_checked', value: verified.length }, { name: 'rolling_verify_unhealthy', value: verified.filter((v) => v.status !== 'healthy').length });
  }
}
