/** Public shapes of the engine, shared by the CLI, the tRPC routers and the workers. */
import type { SecurityLevel } from '../config';

export type { SecurityLevel };
export const BACKUP_TYPES = ['full', 'incremental', 'differential', 'snapshot', 'continuous'] as const;
export type BackupType = (typeof BACKUP_TYPES)[number];
export const BACKUP_STATUSES = ['pending', 'running', 'completed', 'failed'] as const;
export type BackupStatus = (typeof BACKUP_STATUSES)[number];

/** The spec's BackupMetadata, as every face returns it (snake_case, JSON-safe). */
export interface BackupMetadata {
  backup_id: string;
  status: BackupStatus;
  backup_type: BackupType;
  security_level: SecurityLevel;
  user_id: string | null;
  tags: string[];
  retention_days: number;
  priority: number;
  metadata: Record<string, unknown>;
  sources: string[];
  original_size: number;
  stored_size: number;
  new_bytes: number;
  file_count: number;
  shard_count: number;
  new_shard_count: number;
  compression_ratio: number;
  dedup_ratio: number;
  duration_seconds: number;
  throughput_mbps: number;
  error: string | null;
  created_at: string;
  started_at: string | null;
  completed_at: string | null;
  expires_at: string | null;
  /** The change against the previous backup of the same sources looked like mass encryption (change-rule.ts). */
  suspicious: boolean;
  /** Set when an admin acknowledged a suspicious backup: retention applies normally again. */
  suspicious_acknowledged_at: string | null;
  suspicious_acknowledged_by: string | null;
  /** What changed against the previous backup (change-signals.ts StoredChangeSummary); null when nothing was compared. */
  change_summary: Record<string, unknown> | null;
}

export interface BackupProgress {
  backup_id: string;
  status: BackupStatus;
  /** queued: waiting for a free slot (max_concurrent_backups); see queue_position. */
  phase: 'queued' | 'scanning' | 'backing_up' | 'finalizing' | 'done' | 'failed';
  /** While queued: 1 = the next backup to start. Null once it runs. */
  queue_position?: number | null;
  bytes_done: number;
  bytes_total: number;
  files_done: number;
  files_total: number;
  shards_done: number;
  throughput_mbps: number;
  eta_seconds: number | null;
  percent: number;
  updated_at: string;
}

export interface BadReplica {
  shard_id: string;
  location: string;
  problem: 'missing' | 'checksum_mismatch' | 'unreadable' | 'decrypt_failed';
  message: string;
  /** The piece of an erasure-coded shard this location should hold (absent: a whole copy, or the shard as a whole). */
  piece?: number;
}

export interface VerifyResult {
  backup_id: string;
  status: 'healthy' | 'degraded' | 'corrupted';
  all_shards_valid: boolean;
  shards_checked: number;
  replicas_checked: number;
  read_data: boolean;
  bad_shards: BadReplica[];
  /** Shards with no good replica left: their data is lost. */
  lost_shards: string[];
  /** Files whose content touches a lost shard (known when the manifest could be read). */
  affected_files: string[];
  checked_at: string;
}

export interface RepairResult {
  backup_id: string;
  /** Each stored object rewritten: a whole copy, or (with `piece`) one piece of an erasure-coded shard. */
  repaired: { shard_id: string; location: string; piece?: number }[];
  unrepairable: string[];
  status: VerifyResult['status'];
}

export interface RestoreOptions {
  target: string;
  /** Glob patterns (picomatch) on the paths inside the backup, or on a file's name; empty = everything. */
  include?: string[];
  /** Exactly these paths inside the backup (no patterns, no name matching), e.g. a drill's sample. */
  paths?: string[];
  /** Only files whose mtime falls in this range (ISO dates). */
  dateRange?: { start?: string; end?: string };
  /** Restore over existing files, links and directories, replacing them — never writing through a link (default: refuse). */
  overwrite?: boolean;
  /** Keep setuid/setgid/sticky bits as stored (CLI `--preserve-special-bits` only; default: dropped). */
  preserveSpecialBits?: boolean;
  /**
   * allow_partial_recovery: restore every file whose data is readable and report the others, instead of
   * failing; refused when fewer than `minShardThreshold` (0.8) of the needed shards are readable.
   */
  allowPartial?: boolean;
  minShardThreshold?: number;
  /** repair_missing_shards (partial restores; default true): re-create lost shards before giving up. */
  repairMissingShards?: boolean;
}

export interface RestoredFile {
  path: string;
  bytes: number;
}

export interface LostFile {
  path: string;
  bytes: number;
  /** The lost shards its extents touch (empty when it failed for another reason, e.g. its hard-link target). */
  shards: string[];
}

export interface RestoreResult {
  backup_id: string;
  target: string;
  files_restored: number;
  bytes_restored: number;
  duration_seconds: number;
  throughput_mbps: number;
  /** Partial restores only: every file restored, every file lost, and the share of needed shards readable. */
  restored?: RestoredFile[];
  lost?: LostFile[];
  readable_fraction?: number;
  /** Partial restores only: lost shards re-created before restoring (repair_missing_shards). */
  recreated_shards?: string[];
}

/** A data payload in the spec's create_backup(data) form. */
export type BackupPayload = Record<string, unknown> | Buffer | Uint8Array | string;

export interface CreateBackupOptions {
  /** Directories/files to back up, or a payload (object, bytes or string). */
  paths?: string[];
  payload?: BackupPayload;
  payloadName?: string;
  /**
   * Record each entry's atime too (restored when present; otherwise restore sets atime = mtime). Off by
   * default, as in restic and borg: reading a file changes its atime, so recorded atimes make every
   * backup's manifest new (measured: the dedup ratio of an unchanged re-backup fell from >0.99 to 0.97).
   */
  recordAtime?: boolean;
  backupType?: BackupType;
  securityLevel?: SecurityLevel;
  userId?: string | null;
  tags?: string[];
  retentionDays?: number;
  priority?: number;
  metadata?: Record<string, unknown>;
  /** Who asked (for the audit trail): a user email, `cli:<user>`, or `system`. */
  actor?: string;
  signal?: AbortSignal;
}

/** A paged list's order: one of its allow-listed keys (never a column name from a caller) and a direction. */
export type SortDirection = 'asc' | 'desc';
export interface ListSort<K extends string> {
  key: K;
  dir: SortDirection;
}

/** What the backups list may be ordered by (catalog/backup-list.ts maps each to a column; ties by id). */
export const BACKUP_SORT_KEYS = ['created', 'backup', 'status', 'type', 'size', 'files', 'duration'] as const;
export type BackupSortKey = (typeof BACKUP_SORT_KEYS)[number];

export interface ListBackupsFilter {
  /** Default: newest first. */
  sort?: ListSort<BackupSortKey>;
  userId?: string;
  backupType?: BackupType;
  status?: BackupStatus;
  tags?: string[];
  limit?: number;
  offset?: number;
  /** Show only the newest continuous backup of each set of sources (the others stay restorable). */
  collapseContinuous?: boolean;
}

export interface LocationUsage {
  name: string;
  type: string;
  region: string;
  /** The directory, or the bucket (and prefix) as a URL: s3://, gs://, azure://. */
  where: string;
  priority: number;
  /** Completed backups whose manifest has a replica here (catalog/backups-at.ts). */
  backups: number;
  used_bytes: number;
  objects: number;
  /** max_size_gb when set, else the file system's size (local locations), else null (a cloud bucket: no quota is reported). */
  capacity_bytes: number | null;
  capacity_source: 'max_size_gb' | 'file_system' | null;
  /** Free and total bytes of the file system holding a local location (statfs); null for cloud locations. */
  free_bytes: number | null;
  total_bytes: number | null;
  /** With max_size_gb: this installation's bytes against it; else how full the location's file system is; null when neither is known. */
  usage_percentage: number | null;
  healthy: boolean;
}

export interface LocationHealth {
  name: string;
  type: string;
  reachable: boolean;
  latency_ms: number | null;
  error_rate: number;
  last_error: string | null;
  checked_at: string;
}

/** The spec's statistics (get_backup_statistics), by the spec's names; docs/statistics.md defines each. */
export interface SpecStatistics {
  total_backups_created: number;
  successful_backups: number;
  failed_backups: number;
  /** Backups running now (and, apart, those queued for a slot). */
  active_backups: number;
  queued_backups: number;
  /** Seconds, average of completed backups. */
  average_backup_time: number;
  /** Bytes of source data in completed backups. */
  total_data_backed_up: number;
  /** total_data_backed_up ÷ bytes stored (one copy); null until something is stored. */
  storage_efficiency: number | null;
  average_compression_ratio: number;
  total_restores: number;
  successful_restores: number;
  failed_restores: number;
  /** Seconds, average of completed restore jobs (console and CLI); null before the first. */
  average_restore_time: number | null;
  /** failed ÷ finished restore jobs; null before the first. */
  restore_error_rate: number | null;
}

export interface BackupStatistics extends SpecStatistics {
  statistics: SpecStatistics;
  performance_metrics: {
    backup_throughput_mbps: number;
    average_backup_time: number;
    average_restore_time: number | null;
    restore_error_rate: number | null;
    backup_error_rate: number | null;
  };
  /** The fullest storage location's usage (percent of its capacity); null when no location has a known capacity. */
  storage_usage_percentage: number | null;
  // The console's names for some of the same figures.
  total_backups: number;
  completed_backups: number;
  running_backups: number;
  total_original_bytes: number;
  total_stored_bytes: number;
  unique_shards: number;
  average_dedup_ratio: number;
  average_backup_seconds: number;
  backup_throughput_mbps: number;
  success_rate: number;
  /**
   * Scheduled runs that failed before any backup existed (a path gone, a path-policy refusal): counted in
   * failed_backups, success_rate and backup_error_rate, since the backup the schedule promised did not happen.
   */
  schedule_runs_not_started: number;
  /** When those of the last 14 days failed (ISO), newest first, for the dashboard's windows and per-day chart. */
  schedule_runs_not_started_at: string[];
}

/** One audit-trail entry as the engine records it. */
export interface AuditInput {
  actor: string;
  action: string;
  target?: string;
  outcome?: 'success' | 'failure' | 'denied';
  details?: Record<string, unknown>;
}
