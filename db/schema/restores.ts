/**
 * Restore jobs: one row per restore, from the console or the CLI. A console restore is queued here and run by
 * whichever console or worker claims it (SKIP LOCKED), so any process shows its progress and a restart loses
 * nothing. The process running a job refreshes `heartbeat_at`; a job whose process died is marked failed
 * ("interrupted") by the next reader (server/engine/restore/restore-jobs.ts), like backups.
 */
import { bigint, index, integer, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export interface RestoreJobProgress {
  bytes_done: number;
  bytes_total: number;
  files_done: number;
  files_total: number;
}

/** What was asked for: the engine's RestoreOptions without the target (a column) and the callbacks. */
export interface RestoreJobOptions {
  include?: string[];
  dateRange?: { start?: string; end?: string };
  overwrite?: boolean;
  preserveSpecialBits?: boolean;
  allowPartial?: boolean;
  minShardThreshold?: number;
  repairMissingShards?: boolean;
}

export const restoreJobs = pgTable(
  'restore_jobs',
  {
    id: text('id').primaryKey(),
    backupId: text('backup_id').notNull(),
    status: text('status').notNull(), // queued | running | completed | failed
    /** Who asked: an email (console) or the OS user (CLI), their role (console; the path policy is checked again at start), and from where. */
    actor: text('actor').notNull(),
    actorRole: text('actor_role'),
    via: text('via').notNull(), // console | cli
    /** The directory asked for, then the real path checked when the job started. */
    target: text('target').notNull(),
    options: jsonb('options').$type<RestoreJobOptions>().notNull().default({}),
    progress: jsonb('progress').$type<RestoreJobProgress>().notNull().default({ bytes_done: 0, bytes_total: 0, files_done: 0, files_total: 0 }),
    /** The engine's RestoreResult (lists of restored/lost files capped; counts exact). */
    result: jsonb('result').$type<Record<string, unknown>>(),
    filesRestored: integer('files_restored'),
    filesLost: integer('files_lost'),
    bytesRestored: bigint('bytes_restored', { mode: 'number' }),
    durationMs: integer('duration_ms'),
    error: text('error'),
    /** The process running it: `host:pid:nonce`, its pid and host, and when it last reported. */
    claimedBy: text('claimed_by'),
    ownerPid: integer('owner_pid'),
    ownerHost: text('owner_host'),
    heartbeatAt: timestamp('heartbeat_at', { withTimezone: true }),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [index('restore_jobs_created_idx').on(t.createdAt), index('restore_jobs_backup_idx').on(t.backupId), index('restore_jobs_status_idx').on(t.status)],
);
