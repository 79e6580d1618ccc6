/**
 * BackupEngine: the one entry point the CLI, the tRPC routers and the workers use. Framework-free.
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import { type Catalog, openCatalog } from '../../db/client';
import { auditEvents, backups, settings } from '../../db/schema';
import type { Config } from '../config';
import { startBackupJob } from './backup/backup-job';
import { queuePosition } from './backup/backup-queue';
import { type BackupRow, backupShardRecords, getBackupRow, toMetadata } from './catalog/catalog';
import { type BackupSeries, backupSeries } from './catalog/backup-series';
import { countBackups, listBackups } from './catalog/backup-list';
import { CatalogSnapshotter } from './catalog/catalog-snapshot';
import { acknowledgeSuspicious } from './backup/change-signals';
import { CodecPool } from './repository/codec-pool';
import { PgShardIndex } from './repository/pg-shard-index';
import { CatalogKeySource } from './repository/key-source';
import { plaintextAllowed } from './repository/repo-trust';
import type { EngineContext } from './context';
import { type DrillOptions, type DrillResult, type DrillView, drillTargets, listDrills, runDrill } from './restore/drill';
import { EngineError, notFound } from './errors';
import { type BackupFileEntry, listFiles, openFile } from './restore/browse';
import { FileListCache, type FileSort } from './restore/file-list-cache';
import { Hsm } from './keys/hsm';
import { loadMasterKey, loadPreviousMasterKeys } from './keys/keys';
import { loadSecondFactor } from './keys/second-factor';
import { initQuorum, readQuorum, refreshQuorum } from './keys/quorum-store';
import { withQuorumShares, type QuorumRecord } from './keys/quorum';
import { type EscrowPackage, sealEscrow } from './keys/escrow';
import { auditKeyUse, type KeyUse } from './keys/key-audit';
import { type KeyStatus, keyStatus, type RotationReport, rotateKeys, syncMasterKeys } from './keys/key-rotation';
import { type LocationChanges, LocationReloader, locationsFingerprint } from './storage/location-reload';
import { type OptimizeReport, optimizeStorage } from './maintenance/optimize';
import type { OrphanSweepReport, SweepOptions } from './maintenance/orphan-report';
import { sweepOrphans } from './maintenance/orphans';
import { type ProgressTracker } from './backup/progress';
import { type RecoverReport, rebuildCatalog } from './maintenance/recover-catalog';
import { type KeepRules, type PrunePlan, planPrune } from './maintenance/retention';
import { collectReleased, type KeptLocked, type ReleasedReport } from './storage/object-locks';
import { restoreBackup, type RestoreProgress } from './restore/restore';
import { runRestoreJob } from './restore/restore-job-run';
import {
  claimRestoreJobs,
  enqueueRestoreJob,
  getRestoreJobRow,
  insertRunningRestoreJob,
  listRestoreJobRows,
  type ListRestoreJobsFilter,
  type NewRestoreJob,
  processId,
  reapRestoreJobs,
  type RestoreJobRow,
  type RestoreJobView,
  toRestoreJobView,
} from './restore/restore-jobs';
import { PathPolicy, type PolicyRole } from './path-policy';
import { openLocations, openRepository } from './setup';
import { deleteBackup, getStorageHealth, getStorageUsage } from './maintenance/housekeeping';
import { reapInterrupted } from './maintenance/reap-interrupted';
import { getStatistics } from './catalog/statistics';
import { repairBackup, verifyBackup } from './maintenance/verify';
import {
  type AuditInput,
  type BackupMetadata,
  type BackupProgress,
  type BackupStatistics,
  type CreateBackupOptions,
  type ListBackupsFilter,
  type LocationHealth,
  type LocationUsage,
  type RepairResult,
  type RestoreOptions,
  type RestoreResult,
  type VerifyResult,
} from './types';

export type { AuditInput } from './types';

/** A restore job this process claimed and runs: `done` settles with its result or error. */
export interface RunningRestore {
  job: RestoreJobView;
  done: Promise<RestoreResult>;
}

export class BackupEngine {
  private readonly active = new Map<string, ProgressTracker>();
  private snapshots?: CatalogSnapshotter;
  /** This process's name in restore_jobs.claimed_by. */
  readonly processId = processId();
  /** Parsed file lists of recently browsed backups (restore/file-list-cache.ts): the console pages through them. */
  readonly fileLists = new FileListCache();

  private constructor(
    readonly config: Config,
    readonly catalog: Catalog,
    private readonly ctx: EngineContext,
    private readonly reloader: LocationReloader,
  ) {}

  static async open(config: Config, opts: { log?: (line: string) => void; catalog?: Catalog; now?: () => Date } = {}): Promise<BackupEngine> {
    const log = opts.log ?? ((line: string) => console.error(line));
    const catalog = opts.catalog ?? (await openCatalog({ databaseUrl: config.database_url, dataDir: config.data_dir }));
    let hsm: Hsm | null = null;
    try {
      const master = loadMasterKey(config.master_key_source, log);
      const locations = await openLocations(config, catalog.db, log, master, undefined, undefined, opts.now);
      hsm = config.hsm ? await Hsm.open(config.hsm, log) : null;
      const { keys, idKey } = await openRepository(catalog.db, locations, master, log, hsm, loadPreviousMasterKeys(config.master_key_source), { encrypted: config.enable_encryption });
      keys.setSecondFactor(loadSecondFactor(config.second_factor_source));
      const ctx: EngineContext = {
        config,
        db: catalog.db,
        index: new PgShardIndex(catalog.db, () => plaintextAllowed(ctx)),
        keys,
        keySource: new CatalogKeySource(catalog.db, keys, () => plaintextAllowed(ctx)),
        idKey,
        locations,
        pool: new CodecPool(),
        log,
        now: opts.now ?? (() => new Date()),
      };
      await refreshQuorum(ctx).catch((err: unknown) => log(`MAXIMUM backups are unavailable: ${(err as Error).message}`));
      const engine = new BackupEngine(config, catalog, ctx, new LocationReloader(ctx, await locationsFingerprint(ctx)));
      await reapInterrupted(ctx);
      await reapRestoreJobs(ctx.db, ctx.now());
      return engine;
    } catch (err) {
      // A failed open (wrong key, bad location) must not keep the catalog connections (or an HSM session) alive.
      hsm?.close();
      if (!opts.catalog) await catalog.close().catch(() => undefined);
      throw err;
    }
  }

  get locations() {
    return this.ctx.locations;
  }

  /**
   * Applies storage-location changes saved in the console (by this process or another) without a restart;
   * null when nothing changed since the last look. Cheap: one small catalog query when nothing changed.
   */
  refreshLocations(force = false): Promise<LocationChanges | null> {
    return this.reloader.refresh(force);
  }

  async audit(e: AuditInput): Promise<void> {
    await this.ctx.db.insert(auditEvents).values({ actor: e.actor, action: e.action, target: e.target ?? null, outcome: e.outcome ?? 'success', details: e.details ?? {} });
  }

  async createBackup(opts: CreateBackupOptions): Promise<BackupMetadata> {
    const { done } = await this.startBackup(opts);
    return done;
  }

  /** Validates, records the backup as running and returns at once; `done` settles when it completes or fails. */
  async startBackup(opts: CreateBackupOptions): Promise<{ backup_id: string; done: Promise<BackupMetadata> }> {
    const job = await startBackupJob(this.ctx, opts);
    const id = job.backup_id;
    this.active.set(id, job.progress);
    const actor = opts.actor ?? 'system';
    const done = job.done
      .then(async (meta) => {
        await this.audit({ actor, action: 'backup.create', target: id, details: { original_size: meta.original_size, new_bytes: meta.new_bytes } });
        await this.snapshotCatalog();
        return meta;
      })
      .catch(async (err: unknown) => {
        await this.audit({ actor, action: 'backup.create', target: id, outcome: 'failure', details: { error: (err as Error).message } }).catch(() => undefined);
        throw err;
      })
      .finally(() => this.active.delete(id));
    done.catch(() => undefined);
    return { backup_id: id, done };
  }

  listBackups(filter: ListBackupsFilter = {}): Promise<BackupMetadata[]> {
    return listBackups(this.ctx, filter);
  }

  /** The dashboard's figures over the last `days` days, by aggregate SQL (catalog/backup-series.ts). */
  backupSeries(days = 14): Promise<BackupSeries> {
    return backupSeries(this.ctx.db, this.ctx.now(), days);
  }

  countBackups(filter: ListBackupsFilter = {}): Promise<number> {
    return countBackups(this.ctx.db, filter);
  }

  async getBackup(id: string): Promise<BackupMetadata | null> {
    await reapInterrupted(this.ctx);
    const row = await getBackupRow(this.ctx.db, id);
    return row ? toMetadata(row) : null;
  }

  async getBackupProgress(id: string): Promise<BackupProgress | null> {
    const live = this.active.get(id);
    if (live) return live.snapshot();
    await reapInterrupted(this.ctx);
    const row = await getBackupRow(this.ctx.db, id);
    if (!row) return null;
    const p = (row.progress ?? {}) as Partial<BackupProgress>;
    const done = row.status === 'completed';
    const queued = row.status === 'pending';
    return {
      backup_id: id,
      status: row.status as BackupProgress['status'],
      phase: done ? 'done' : row.status === 'failed' ? 'failed' : queued ? 'queued' : (p.phase ?? 'scanning'),
      queue_position: queued ? await queuePosition(this.ctx, id) : null,
      bytes_done: p.bytes_done ?? (done ? row.originalSize : 0),
      bytes_total: p.bytes_total ?? row.originalSize,
      files_done: p.files_done ?? (done ? row.fileCount : 0),
      files_total: p.files_total ?? row.fileCount,
      shards_done: p.shards_done ?? row.shardCount,
      throughput_mbps: done ? row.throughputMbps : (p.throughput_mbps ?? 0),
      eta_seconds: done ? 0 : (p.eta_seconds ?? null),
      percent: done ? 100 : (p.percent ?? 0),
      updated_at: p.updated_at ?? row.createdAt.toISOString(),
    };
  }

  private async completedRow(id: string): Promise<BackupRow> {
    const row = await getBackupRow(this.ctx.db, id);
    if (!row) throw notFound(`Backup ${id}`);
    if (row.status !== 'completed') throw new EngineError('CONFLICT', `Backup ${id} is ${row.status}, not completed: only completed backups can be verified, repaired or restored.`);
    return row;
  }

  /** One `key.use` audit row for this backup's data key (see key-audit.ts). */
  private keyUse(row: BackupRow, actor: string | undefined, purpose: KeyUse['purpose'], details?: Record<string, unknown>, coalesce = false): Promise<void> {
    return auditKeyUse(this.ctx.db, { actor: actor ?? 'system', keyId: row.keyId, purpose, backupId: row.id, securityLevel: row.securityLevel, details }, { coalesce });
  }

  async verifyBackup(id: string, opts: { readData?: boolean; actor?: string } = {}): Promise<VerifyResult> {
    const row = await this.completedRow(id);
    // Even without --read-data, verify decrypts the manifest's chunk table with the data key.
    await this.keyUse(row, opts.actor, 'verify', { read_data: opts.readData ?? false });
    const result = await verifyBackup(this.ctx, row, opts.readData ?? false);
    await this.audit({ actor: opts.actor ?? 'system', action: 'backup.verify', target: id, outcome: result.status === 'healthy' ? 'success' : 'failure', details: { status: result.status, bad: result.bad_shards.length, lost: result.lost_shards.length } });
    return result;
  }

  async repairBackup(id: string, opts: { actor?: string } = {}): Promise<RepairResult> {
    const row = await this.completedRow(id);
    await this.keyUse(row, opts.actor, 'repair');
    const result = await repairBackup(this.ctx, row);
    await this.audit({ actor: opts.actor ?? 'system', action: 'backup.repair', target: id, details: { repaired: result.repaired.length, status: result.status } });
    return result;
  }

  async restoreBackup(id: string, opts: RestoreOptions & { actor?: string; onProgress?: (p: RestoreProgress) => void }): Promise<RestoreResult> {
    const row = await this.completedRow(id);
    await this.keyUse(row, opts.actor, 'restore');
    try {
      const result = await restoreBackup(this.ctx, row, opts, opts.onProgress);
      await this.audit({ actor: opts.actor ?? 'system', action: 'backup.restore', target: id, details: { target: result.target, files: result.files_restored, bytes: result.bytes_restored } });
      return result;
    } catch (err) {
      await this.audit({ actor: opts.actor ?? 'system', action: 'backup.restore', target: id, outcome: 'failure', details: { error: (err as Error).message } });
      throw err;
    }
  }

  /**
   * Queues a restore (the console): any console or worker claims it (`claimRestores`), usually the caller
   * at once. A console job's target is checked again for its actor's role when it starts.
   */
  async enqueueRestore(job: NewRestoreJob): Promise<RestoreJobView> {
    await this.completedRow(job.backupId);
    return toRestoreJobView(await enqueueRestoreJob(this.ctx.db, job, this.ctx.now()), this.ctx.now());
  }

  /** Claims queued restores (up to `limit`, or only `onlyId`) and runs them here, in the background. */
  async claimRestores(opts: { limit?: number; onlyId?: string } = {}): Promise<RunningRestore[]> {
    await reapRestoreJobs(this.ctx.db, this.ctx.now());
    const rows = await claimRestoreJobs(this.ctx.db, this.processId, opts.limit ?? 1, this.ctx.now(), opts.onlyId);
    return rows.map((row) => {
      const done = this.runRestoreRow(row);
      done.catch(() => undefined);
      return { job: toRestoreJobView(row, this.ctx.now()), done };
    });
  }

  /** A restore run here and now (the CLI), recorded in restore_jobs like the console's. */
  async runRecordedRestore(job: NewRestoreJob, onProgress?: (p: RestoreProgress) => void): Promise<{ restore_id: string; result: RestoreResult }> {
    this.ctx.pool.startCodecThreads(); // loading while the catalog records the job (restore.ts starts them too)
    await this.completedRow(job.backupId);
    const row = await insertRunningRestoreJob(this.ctx.db, job, this.processId, this.ctx.now());
    return { restore_id: row.id, result: await this.runRestoreRow(row, onProgress) };
  }

  /**
   * A restore that only this process may run, in the background: the console's restore of MAXIMUM data
   * with the key holders' shares. The shares live in this operation's async context alone (never in the
   * catalog, where another console or worker could claim a queued job without them), so the job is
   * recorded as already running here. Shares that do not reassemble a quorum are refused before anything
   * is recorded.
   */
  async startRestoreHere(job: NewRestoreJob, shares: string[]): Promise<RunningRestore> {
    await this.completedRow(job.backupId);
    await withQuorumShares(shares, async () => undefined);
    const row = await insertRunningRestoreJob(this.ctx.db, job, this.processId, this.ctx.now());
    const done = withQuorumShares(shares, () => this.runRestoreRow(row));
    done.catch(() => undefined);
    return { job: toRestoreJobView(row, this.ctx.now()), done };
  }

  async getRestoreJob(id: string): Promise<RestoreJobView | null> {
    await reapRestoreJobs(this.ctx.db, this.ctx.now());
    const row = await getRestoreJobRow(this.ctx.db, id);
    return row ? toRestoreJobView(row, this.ctx.now()) : null;
  }

  async listRestoreJobs(filter: ListRestoreJobsFilter = {}): Promise<{ jobs: RestoreJobView[]; total: number }> {
    await reapRestoreJobs(this.ctx.db, this.ctx.now());
    const { rows, total } = await listRestoreJobRows(this.ctx.db, filter);
    return { jobs: rows.map((r) => toRestoreJobView(r, this.ctx.now())), total };
  }

  private runRestoreRow(row: RestoreJobRow, onProgress?: (p: RestoreProgress) => void): Promise<RestoreResult> {
    const checkTarget = async (r: RestoreJobRow) => {
      if (r.via !== 'console') return r.target;
      // A console job: the actor's path policy again (a symlink swapped in since the request), for the real path.
      const role = (r.actorRole ?? 'viewer') as PolicyRole;
      const policy = PathPolicy.forInstallation(this, (e) => this.audit(e));
      return policy.checkRestoreTarget({ email: r.actor, role }, r.target, r.options.overwrite === true, { action: 'backup.restore', details: { backup_id: r.backupId, restore_id: r.id } });
    };
    return runRestoreJob(
      {
        db: this.ctx.db,
        now: this.ctx.now,
        worker: this.processId,
        log: this.ctx.log,
        checkTarget,
        onProgress,
        restore: (opts) => this.restoreBackup(row.backupId, { ...opts, actor: row.actor }),
      },
      row,
    );
  }

  /**
   * A restore drill (see drill.ts) of one backup: the one given, else the newest completed one (of
   * `sources`, when given). Audited as a key use and a `backup.drill`; a failed drill is a result, not a throw.
   */
  async runDrill(opts: DrillOptions = {}): Promise<DrillResult> {
    const id = opts.backupId ?? (await this.newestCompleted(opts.sources));
    if (!id) throw notFound(`A completed backup${opts.sources?.length ? ` of ${opts.sources.join(', ')}` : ''} to drill`);
    const row = await this.completedRow(id);
    const actor = opts.actor ?? 'system';
    await this.keyUse(row, actor, 'drill');
    const r = await runDrill(this.ctx, row, opts);
    const { drill_id, status, rto_seconds, files_checked, bytes_checked, sample_percent, error } = r;
    await this.audit({ actor, action: 'backup.drill', target: row.id, outcome: status === 'passed' ? 'success' : 'failure', details: { drill_id, status, rto_seconds, files_checked, bytes_checked, sample_percent, error } });
    return r;
  }

  /** Drills of the newest completed backup of every source set (of those including `sources`), one after another. */
  async runDrills(opts: Omit<DrillOptions, 'backupId'> = {}): Promise<DrillResult[]> {
    const out: DrillResult[] = [];
    for (const id of await drillTargets(this.ctx, opts.sources)) out.push(await this.runDrill({ ...opts, backupId: id }));
    if (!out.length) throw notFound(`A completed backup${opts.sources?.length ? ` of ${opts.sources.join(', ')}` : ''} to drill`);
    return out;
  }

  listDrills(opts: { limit?: number; since?: Date; backupId?: string } = {}): Promise<DrillView[]> {
    return listDrills(this.ctx, opts);
  }

  private async newestCompleted(sources?: string[]): Promise<string | undefined> {
    const [r] = await this.ctx.db
      .select({ id: backups.id })
      .from(backups)
      .where(and(eq(backups.status, 'completed'), ...(sources?.length ? [sql`${backups.sources} @> ${JSON.stringify(sources)}::jsonb`] : [])))
      .orderBy(desc(backups.completedAt), desc(backups.createdAt))
      .limit(1);
    return r?.id;
  }

  /** The files of a completed backup, filtered by a path substring, one page at a time. */
  async listBackupFiles(id: string, opts: { filter?: string; limit?: number; offset?: number; sort?: FileSort; actor?: string } = {}): Promise<{ entries: BackupFileEntry[]; total: number }> {
    const row = await this.completedRow(id);
    // Every page is checked and audited before the cached list is read: one key.use row per viewer and backup every few minutes.
    await this.keyUse(row, opts.actor, 'browse', undefined, true);
    return listFiles(this.ctx, row, { filter: opts.filter, limit: opts.limit ?? 100, offset: opts.offset ?? 0, sort: opts.sort }, this.fileLists);
  }

  /** One file of a completed backup as a byte stream (a download); audited like a restore. */
  async readBackupFile(id: string, filePath: string, opts: { actor?: string } = {}): Promise<{ entry: BackupFileEntry; bytes: AsyncIterable<Buffer> }> {
    const row = await this.completedRow(id);
    await this.keyUse(row, opts.actor, 'download', { path: filePath });
    const file = await openFile(this.ctx, row, filePath);
    await this.audit({ actor: opts.actor ?? 'system', action: 'backup.download', target: id, details: { path: filePath, bytes: file.entry.size } });
    return file;
  }

  /** An admin acknowledges a suspicious backup (see change-signals.ts); retention applies normally again. Audited. */
  acknowledgeSuspicious(id: string, opts: { actor?: string } = {}): Promise<BackupMetadata> {
    return acknowledgeSuspicious(this.ctx, id, opts.actor ?? 'system');
  }

  async deleteBackup(id: string, opts: { force?: boolean; actor?: string } = {}): Promise<boolean> {
    return (await this.deleteBackupReport(id, opts)).deleted;
  }

  /** Deletes a backup and says which of its objects were kept because a store lock (immutability) holds them. */
  async deleteBackupReport(id: string, opts: { force?: boolean; actor?: string } = {}): Promise<{ deleted: true; kept_locked: KeptLocked[] }> {
    const kept = await deleteBackup(this.ctx, id, opts.force ?? false);
    this.fileLists.drop(id);
    await this.audit({ actor: opts.actor ?? 'system', action: 'backup.delete', target: id, details: { force: opts.force ?? false, kept_locked: kept.length } });
    return { deleted: true, kept_locked: kept };
  }

  /**
   * cleanup_expired_backups / prune: removes the backups no keep-rule keeps (or, without rules, those past
   * their retention) and then the shards nothing references. Running backups are never touched.
   */
  async prune(rules: KeepRules = {}, opts: { dryRun?: boolean; actor?: string } = {}): Promise<PrunePlan & { dry_run: boolean; removed: number; kept_locked: KeptLocked[]; released: ReleasedReport }> {
    await reapInterrupted(this.ctx);
    const rows = await this.ctx.db
      .select({ id: backups.id, sources: backups.sources, status: backups.status, completedAt: backups.completedAt, createdAt: backups.createdAt, expiresAt: backups.expiresAt, suspicious: backups.suspicious, ackAt: backups.suspiciousAcknowledgedAt })
      .from(backups);
    const plan = planPrune(
      rows.map((r) => ({
        backup_id: r.id,
        group: JSON.stringify(r.sources),
        status: r.status,
        completed_at: (r.completedAt ?? r.createdAt).toISOString(),
        expires_at: r.expiresAt ? r.expiresAt.toISOString() : null,
        suspicious: r.suspicious,
        acknowledged: r.ackAt !== null,
      })),
      rules,
      this.ctx.now(),
    );
    let removed = 0;
    const keptLocked: KeptLocked[] = [];
    // Objects kept at an earlier prune or delete because they were locked: collected once the lock is over.
    const released = await collectReleased(this.ctx, { dryRun: opts.dryRun });
    if (!opts.dryRun) {
      for (const r of plan.remove) {
        try {
          keptLocked.push(...(await deleteBackup(this.ctx, r.backup_id, false)));
          this.fileLists.drop(r.backup_id);
          removed++;
        } catch (err) {
          this.ctx.log(`prune: could not remove ${r.backup_id}: ${(err as Error).message}`);
        }
      }
      await this.audit({ actor: opts.actor ?? 'system', action: 'backup.prune', details: { rules: { ...rules }, removed, kept: plan.keep.length, kept_locked: keptLocked.length, released_deleted: released.deleted } });
    }
    return { ...plan, dry_run: opts.dryRun ?? false, removed, kept_locked: keptLocked, released };
  }

  /** optimize_storage_locations: restores the placement policy after locations changed. */
  async optimizeStorage(opts: { dryRun?: boolean; actor?: string; budgetBytes?: number | null } = {}): Promise<OptimizeReport> {
    const report = await optimizeStorage(this.ctx, { dryRun: opts.dryRun, budgetBytes: opts.budgetBytes });
    if (!report.dry_run) {
      const { copies_added: added, copies_removed: removed, bytes_copied, budget_bytes, shards_left, bytes_left } = report;
      await this.audit({ actor: opts.actor ?? 'system', action: 'storage.optimize', details: { added, removed, problems: report.problems.length, bytes_copied, budget_bytes, shards_left, bytes_left } });
    }
    return report;
  }

  /**
   * storage gc: deletes objects the catalog does not know and shard rows no backup references (with their
   * objects), in two sweeps at least a grace period apart (see orphans.ts). A dry run reports what would be
   * marked and deleted and changes nothing.
   */
  async sweepOrphans(opts: SweepOptions & { actor?: string } = {}): Promise<OrphanSweepReport> {
    const actor = opts.actor ?? 'system';
    try {
      const r = await sweepOrphans(this.ctx, opts);
      if (!r.dry_run) {
        const details = { grace_hours: r.grace_hours, marked: r.totals.marked.objects, deleted: r.totals.deleted.objects, bytes_deleted: r.totals.deleted.bytes, shards_deleted: r.shards.deleted.shards, kept: r.totals.kept.objects, problems: r.problems.length };
        await this.audit({ actor, action: 'storage.gc', outcome: r.problems.length ? 'failure' : 'success', details });
      }
      return r;
    } catch (err) {
      if (!opts.dryRun) await this.audit({ actor, action: 'storage.gc', outcome: 'failure', details: { error: (err as Error).message } }).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Re-wraps every key and sealed secret under the current master key (see key-rotation.ts); `complete` says
   * when the replaced keys may be dropped. Audited.
   */
  async rotateKeys(opts: { actor?: string } = {}): Promise<RotationReport> {
    const r = await rotateKeys(this.ctx);
    const { master_key, previous_keys, data_keys, complete } = r;
    await this.audit({ actor: opts.actor ?? 'system', action: 'key.rotate', outcome: complete ? 'success' : 'failure', details: { master_key, previous_keys, data_keys, complete } });
    return r;
  }

  /** Key escrow: the master keys sealed to an escrow holder's RSA public key (see escrow.ts). Audited. */
  async exportKeyEscrow(publicKeyPem: string, opts: { actor?: string } = {}): Promise<EscrowPackage> {
    const [row] = await this.ctx.db.select().from(settings).where(eq(settings.key, 'repository'));
    const repoId = (row?.value as { repo_id?: string } | undefined)?.repo_id ?? 'unknown';
    const pkg = sealEscrow(this.ctx.keys.allMasters, repoId, publicKeyPem, this.ctx.now());
    await this.audit({ actor: opts.actor ?? 'system', action: 'key.escrow', details: { master_keys: pkg.master_keys, recipient: pkg.recipient } });
    return pkg;
  }

  /**
   * Creates the MAXIMUM key-holder quorum (k of n): returns the n shares, the only copies of its private key,
   * to hand to the holders. Audited (never the shares).
   */
  async initKeyQuorum(threshold: number, holders: number, opts: { replace?: boolean; actor?: string } = {}): Promise<{ record: QuorumRecord; shares: string[] }> {
    const r = await initQuorum(this.ctx, threshold, holders, { replace: opts.replace });
    await this.audit({ actor: opts.actor ?? 'system', action: 'key.quorum_init', target: r.record.id, details: { threshold, holders, replaced: Boolean(opts.replace) } });
    return r;
  }

  /** The MAXIMUM quorum's public record and whether this process has the HIGH/MAXIMUM second factor. */
  async securityLevelStatus(): Promise<{ second_factor: string | null; quorum: Omit<QuorumRecord, 'mac' | 'public_key'> | null }> {
    const q = await readQuorum(this.ctx);
    return { second_factor: this.ctx.keys.secondFactorName, quorum: q ? { id: q.id, threshold: q.threshold, holders: q.holders, created_at: q.created_at } : null };
  }

  /**
   * The master keys, the current one first, for sealing and opening the secrets the console stores (location
   * credentials, alert channels). Follows a rotation made by another process first. Server-side only.
   */
  async secretKeys(): Promise<Buffer[]> {
    await syncMasterKeys(this.ctx);
    return this.ctx.keys.allMasters;
  }

  keyStatus(): Promise<KeyStatus> {
    return keyStatus(this.ctx);
  }

  /** Fingerprints of the master key in force and of the replaced ones still configured. */
  get masterKeys(): { current: string; previous: string[] } {
    return { current: this.ctx.keys.masterId, previous: this.ctx.keys.previousIds };
  }

  /**
   * Writes a catalog snapshot to every location when the catalog changed (audit events since the last one)
   * and the last is old enough, or a day old; on close, whenever it changed. Never throws (see catalog-snapshot.ts).
   */
  snapshotCatalog(trigger: 'change' | 'close' = 'change'): Promise<void> {
    return (this.snapshots ??= new CatalogSnapshotter(this.ctx)).trigger(trigger);
  }

  /** Emergency recovery: the newest catalog snapshot, then the catalog rebuilt from the storage locations (see recover-catalog.ts). */
  async rebuildCatalog(opts: { actor?: string; readData?: boolean; skipCatalogSnapshot?: boolean } = {}): Promise<RecoverReport> {
    const report = await rebuildCatalog(this.ctx, { readData: opts.readData, skipCatalogSnapshot: opts.skipCatalogSnapshot, reloadLocations: () => this.refreshLocations(true) });
    await this.audit({ actor: opts.actor ?? 'system', action: 'catalog.rebuild', details: { ...report, damaged_objects: report.damaged_objects.length, unreferenced_objects: report.unreferenced_count } });
    return report;
  }

  async getShardMap(id: string) {
    const row = await getBackupRow(this.ctx.db, id);
    if (!row) throw notFound(`Backup ${id}`);
    const records = await backupShardRecords(this.ctx.db, id);
    return records.map((r) => ({
      shard_id: r.id,
      kind: r.kind as 'data' | 'manifest',
      plain_size: r.plainSize,
      stored_size: r.storedSize,
      compression: r.compression,
      /** Erasure-coded: k data + m parity pieces, one per replica (`piece`); null = whole copies. */
      coding: r.coding,
      replicas: r.replicas.map((x) => ({ location: x.location, state: x.state as 'ok' | 'bad' | 'missing', piece: x.piece })),
    }));
  }

  getStatistics(): Promise<BackupStatistics> {
    return getStatistics(this.ctx);
  }

  getStorageUsage(): Promise<LocationUsage[]> {
    return getStorageUsage(this.ctx);
  }

  getStorageHealth(): Promise<LocationHealth[]> {
    return getStorageHealth(this.ctx);
  }

  async close(): Promise<void> {
    await this.snapshotCatalog('close');
    await this.ctx.pool.close();
    await Promise.all(this.ctx.locations.all.map((l) => l.backend.close().catch(() => undefined)));
    await this.reloader.closeRetired();
    this.ctx.keys.close();
    await this.catalog.close();
  }
}
