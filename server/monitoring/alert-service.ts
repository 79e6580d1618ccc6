/**
 * AlertService: the alert rules where events happen (a backup finished, a verify, a restore) and the
 * notifications. Every face calls it: the CLI after verify, the tRPC verify procedure, the schedule
 * worker and the health monitor. Sending never fails the caller.
 */
import { backupVerifications } from '../../db/schema';
import type { Db } from '../../db/client';
import type { Config } from '../config';
import type { DrillResult } from '../engine/restore/drill';
import type { BackupMetadata, VerifyResult } from '../engine/types';
import { loadMasterKey, loadPreviousMasterKeys } from '../engine/keys/keys';
import { OutboundPolicy } from '../engine/net/outbound-policy';
import { alertSettings, type AlertSettings } from './alert-settings';
import { type AlertSettingsPatch, clearStoredAlertSettings, loadStoredAlertSettings, saveAlertSettings } from './alert-settings-store';
import { type AlertRow, raiseAlert, type RaiseInput, resolveAlert } from './alert-store';
import { type AlertMessage, deliver, type DeliveryResult } from './channels';
import { alertOnSuspiciousChange } from './change-alerts';
import { alertOnDrillResult } from './drill-alerts';
import type { AlertSink } from './alert-sink';

export interface AlertServiceOptions {
  now?: () => Date;
  log?: (line: string) => void;
  /** How long settings read from the catalog are reused before being read again (console edits reach every process within it). */
  settingsTtlMs?: number;
  /** The master keys, current first, that seal the channel secrets (an engine's, so they follow a rotation); default: the config's key source. */
  keys?: () => Promise<Buffer[]>;
}

/** Where the settings in force come from, for the console. */
export interface SettingsSource {
  source: 'file' | 'console';
  updated_by: string | null;
  updated_at: string | null;
  /** Console settings that could not be used (the file's apply meanwhile). */
  error: string | null;
}

export class AlertService implements AlertSink {
  /** The settings in force: the console's if an admin saved some, else the config file's. Kept fresh by refresh(). */
  settings: AlertSettings;
  origin: SettingsSource = { source: 'file', updated_by: null, updated_at: null, error: null };
  private readonly fileSettings: AlertSettings;
  private readonly now: () => Date;
  private readonly log: (line: string) => void;
  private readonly ttlMs: number;
  private loadedAt = -Infinity;
  private readonly keys: () => Promise<Buffer[]>;

  constructor(
    private readonly db: Db,
    private readonly config: Pick<Config, 'alerts' | 'alert_thresholds' | 'public_url' | 'master_key_source'> & Partial<Pick<Config, 'outbound'>>,
    opts: AlertServiceOptions = {},
  ) {
    this.fileSettings = alertSettings(config);
    this.settings = this.fileSettings;
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? ((l) => console.error(`[plexichat] ${l}`));
    this.ttlMs = opts.settingsTtlMs ?? 10_000;
    this.keys = opts.keys ?? (async () => [loadMasterKey(config.master_key_source, this.log), ...loadPreviousMasterKeys(config.master_key_source)]);
  }

  get thresholds() {
    return this.settings.thresholds;
  }

  /** Re-reads the console's settings when the cached ones are older than the TTL (or always, with force). Never throws. */
  async refresh(force = false): Promise<AlertSettings> {
    if (!force && Date.now() - this.loadedAt < this.ttlMs) return this.settings;
    try {
      const keys = await this.keys();
      const stored = await loadStoredAlertSettings(this.db, () => keys);
      this.settings = stored?.settings ?? this.fileSettings;
      this.origin = stored ? { source: 'console', updated_by: stored.updated_by, updated_at: stored.updated_at, error: null } : { source: 'file', updated_by: null, updated_at: null, error: null };
    } catch (err) {
      const message = (err as Error).message;
      if (this.origin.error !== message) this.log(`alerts: the settings saved in the console are not used, the configuration file's apply: ${message}`);
      this.settings = this.fileSettings;
      this.origin = { source: 'file', updated_by: null, updated_at: null, error: message };
    }
    this.loadedAt = Date.now();
    return this.settings;
  }

  /** Saves an admin's edit (validated; secrets kept when left masked) and applies it at once in this process. */
  async updateSettings(patch: AlertSettingsPatch, actor: string): Promise<AlertSettings> {
    await this.refresh(true);
    const [current] = await this.keys();
    await saveAlertSettings(this.db, current!, this.settings, patch, actor, this.now());
    return this.refresh(true);
  }

  /** Drops the console's settings: the config file's `alerts` key applies again. */
  async resetSettings(): Promise<AlertSettings> {
    await clearStoredAlertSettings(this.db);
    return this.refresh(true);
  }

  /** Raises (or refreshes) an alert; notifies only when it opens or escalates. */
  async raise(input: RaiseInput): Promise<AlertRow> {
    await this.refresh();
    const { row, event } = await raiseAlert(this.db, input, this.config.public_url, this.now());
    if (event) await this.notify(row, event);
    return row;
  }

  /** Resolves the open alert of a subject, sending one "resolved" message. */
  async resolve(subjectKey: string, note?: string): Promise<AlertRow | null> {
    const row = await resolveAlert(this.db, subjectKey, this.now(), note);
    if (row) await this.notify(row, 'resolved');
    return row;
  }

  async notify(row: AlertRow, event: AlertMessage['event']): Promise<DeliveryResult[]> {
    await this.refresh();
    const msg: AlertMessage = {
      id: row.id,
      rule: row.rule,
      subject_key: row.subjectKey,
      severity: row.severity as AlertMessage['severity'],
      state: row.state as AlertMessage['state'],
      event,
      message: event === 'resolved' ? `Resolved: ${row.message}` : row.message,
      link: row.link,
      at: this.now().toISOString(),
    };
    try {
      return await deliver(this.settings, msg, this.log, OutboundPolicy.for(this.config.outbound));
    } catch (err) {
      this.log(`alert ${row.id}: delivery error: ${(err as Error).message}`);
      return [];
    }
  }

  /** A test message to every enabled channel (the console's "send test alert"). */
  async sendTest(actor: string): Promise<DeliveryResult[]> {
    await this.refresh(true);
    const now = this.now();
    const base = this.config.public_url.replace(/\/$/, '');
    return deliver(
      this.settings,
      { id: 'test', rule: 'test', subject_key: 'test', severity: 'warning', state: 'open', event: 'test', message: `Test alert sent by ${actor}`, link: `${base}/alerts`, at: now.toISOString() },
      this.log,
      OutboundPolicy.for(this.config.outbound),
    );
  }

  /** After every verify, wherever it ran: alerts on a result that is not healthy, resolves on a healthy one. */
  async onVerify(result: VerifyResult): Promise<void> {
    await this.safely(async () => {
      const now = this.now();
      const rec = { status: result.status, verifiedAt: now, lostShards: result.lost_shards.length, badShards: result.bad_shards.length };
      await this.db.insert(backupVerifications).values({ backupId: result.backup_id, ...rec }).onConflictDoUpdate({ target: backupVerifications.backupId, set: rec });
      const key = `verify:${result.backup_id}`;
      if (result.status === 'healthy') {
        await this.resolve(key, 'verify healthy');
        return;
      }
      const detail = result.status === 'corrupted' ? `${result.lost_shards.length} shard(s) lost, ${result.affected_files.length} file(s) affected` : `${result.bad_shards.length} damaged or missing ${result.bad_shards.length === 1 ? 'copy or piece' : 'copies or pieces'}, data still recoverable`;
      await this.raise({
        rule: 'verify_unhealthy',
        subjectKey: key,
        severity: result.status === 'corrupted' ? 'critical' : 'warning',
        message: `Backup ${result.backup_id} is ${result.status}: ${detail}`,
        path: `/backups/${result.backup_id}`,
        details: { status: result.status, lost_shards: result.lost_shards.slice(0, 50), bad_shards: result.bad_shards.length, affected_files: result.affected_files.slice(0, 50) },
      });
    });
  }

  /**
   * After a backup finished (completed or failed). `group` names what repeats (a schedule, or the sources),
   * so a nightly job that keeps failing raises one alert, resolved by its next success.
   */
  async onBackupFinished(meta: BackupMetadata, opts: { group?: string } = {}): Promise<void> {
    await this.safely(async () => {
      const key = `backup_failed:${opts.group ?? meta.sources.join(',')}`;
      if (meta.status === 'completed') {
        await this.resolve(key, `backup ${meta.backup_id} completed`);
        await alertOnSuspiciousChange(this, meta);
        return;
      }
      if (meta.status !== 'failed') return;
      await this.raise({
        rule: 'backup_failed',
        subjectKey: key,
        severity: 'critical',
        message: `Backup ${meta.backup_id} of ${meta.sources.join(', ')} failed: ${meta.error ?? 'unknown error'}`,
        path: `/backups/${meta.backup_id}`,
        details: { backup_id: meta.backup_id, sources: meta.sources, tags: meta.tags },
      });
    });
  }

  /** A scheduled run that could not even start a backup (e.g. its path is gone). */
  async onScheduleError(schedule: string, message: string): Promise<void> {
    await this.safely(() =>
      this.raise({ rule: 'backup_failed', subjectKey: `backup_failed:schedule:${schedule}`, severity: 'critical', message: `Scheduled backup "${schedule}" could not start: ${message}`, path: null, details: { schedule } }),
    );
  }

  /** After a restore: one slower than recovery_time_warning raises an alert. */
  async onRestore(r: { backup_id: string; duration_seconds: number; ok: boolean; error?: string }): Promise<void> {
    await this.safely(async () => {
      const t = (await this.refresh()).thresholds;
      if (!r.ok) {
        await this.raise({ rule: 'restore_failed', subjectKey: `restore:${r.backup_id}`, severity: 'critical', message: `Restore of ${r.backup_id} failed: ${r.error ?? 'unknown error'}`, path: `/backups/${r.backup_id}` });
        return;
      }
      if (r.duration_seconds <= t.recovery_time_warning) return;
      const severity = r.duration_seconds > t.recovery_time_critical ? 'critical' : 'warning';
      await this.raise({
        rule: 'restore_slow',
        subjectKey: `restore_slow:${r.backup_id}`,
        severity,
        message: `Restore of ${r.backup_id} took ${Math.round(r.duration_seconds)} s (recovery time ${severity} threshold ${severity === 'critical' ? t.recovery_time_critical : t.recovery_time_warning} s)`,
        path: `/backups/${r.backup_id}`,
        details: { duration_seconds: r.duration_seconds },
      });
    });
  }

  /** After every restore drill (CLI, console, drill schedules): see drill-alerts.ts. */
  async onDrillFinished(r: DrillResult): Promise<void> {
    await this.safely(() => alertOnDrillResult(this, r));
  }

  private async safely(fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      this.log(`alerts: ${(err as Error).message}`);
    }
  }
}
