/**
 * Operations: backup schedules and their runs (a small Postgres-backed queue), alerts, metric samples and
 * the rolling-verify bookkeeping of the health monitor.
 */
import { sql } from 'drizzle-orm';
import { bigserial, boolean, doublePrecision, index, integer, jsonb, pgTable, text, timestamp, uniqueIndex } from 'drizzle-orm/pg-core';

export const schedules = pgTable('schedules', {
  id: text('id').primaryKey(),
  name: text('name').notNull().unique(),
  cron: text('cron').notNull(),
  timezone: text('timezone').notNull().default('UTC'),
  paths: jsonb('paths').$type<string[]>().notNull(),
  backupType: text('backup_type').notNull().default('full'),
  securityLevel: text('security_level'),
  tags: jsonb('tags').$type<string[]>().notNull().default([]),
  retentionDays: integer('retention_days'),
  /** The priority of the backups it starts (1–10, higher first when max_concurrent_backups is reached). */
  priority: integer('priority').notNull().default(5),
  paused: boolean('paused').notNull().default(false),
  /** Continuous schedules: seconds after the last change seen before a backup starts. */
  delaySeconds: integer('delay_seconds'),
  /** Continuous schedules: the worker holding the watcher lease, and when it last renewed it. */
  watcherId: text('watcher_id'),
  watcherSeenAt: timestamp('watcher_seen_at', { withTimezone: true }),
  /** The latest due time already enqueued (or the creation time): the next due run is the first cron time after it. */
  enqueuedThrough: timestamp('enqueued_through', { withTimezone: true }).notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
});

/** One due run of a schedule; (schedule_id, due_at) is unique, so many workers enqueue each run once. */
export const scheduleRuns = pgTable(
  'schedule_runs',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    /** Null once its schedule is removed: the run stays in the history the statistics count. */
    scheduleId: text('schedule_id').references(() => schedules.id, { onDelete: 'set null' }),
    /** A run of a drill schedule (not a backup), recorded at enqueue time. */
    drill: boolean('drill').notNull().default(false),
    dueAt: timestamp('due_at', { withTimezone: true }).notNull(),
    status: text('status').notNull().default('queued'), // queued | running | completed | failed | cancelled (schedule removed first)
    late: boolean('late').notNull().default(false),
    manual: boolean('manual').notNull().default(false),
    claimedBy: text('claimed_by'),
    backupId: text('backup_id'),
    error: text('error'),
    createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp('started_at', { withTimezone: true }),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
  },
  (t) => [uniqueIndex('schedule_runs_due_uq').on(t.scheduleId, t.dueAt), index('schedule_runs_status_idx').on(t.status, t.dueAt)],
);

/** An alert; at most one not-resolved alert per subject key (the dedup that prevents alert storms). */
export const alerts = pgTable(
  'alerts',
  {
    id: text('id').primaryKey(),
    rule: text('rule').notNull(),
    subjectKey: text('subject_key').notNull(),
    severity: text('severity').notNull(), // warning | critical
    state: text('state').notNull().default('open'), // open | acknowledged | resolved
    message: text('message').notNull(),
    link: text('link').notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    openedAt: timestamp('opened_at', { withTimezone: true }).notNull().defaultNow(),
    lastSeenAt: timestamp('last_seen_at', { withTimezone: true }).notNull().defaultNow(),
    acknowledgedAt: timestamp('acknowledged_at', { withTimezone: true }),
    acknowledgedBy: text('acknowledged_by'),
    resolvedAt: timestamp('resolved_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('alerts_active_subject_uq').on(t.subjectKey).where(sql`state <> 'resolved'`),
    index('alerts_opened_idx').on(t.openedAt),
    index('alerts_state_idx').on(t.state),
  ],
);

/** Time series written by the health monitor (one row per metric, labels and time). */
export const metricSamples = pgTable(
  'metric_samples',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    name: text('name').notNull(),
    labels: jsonb('labels').$type<Record<string, string>>().notNull().default({}),
    value: doublePrecision('value').notNull(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
  },
  (t) => [index('metric_samples_name_at_idx').on(t.name, t.at)],
);

/** When each backup was last verified and how it came out (drives the rolling verify and the report). */
export const backupVerifications = pgTable('backup_verifications', {
  backupId: text('backup_id').primaryKey(),
  status: text('status').notNull(),
  verifiedAt: timestamp('verified_at', { withTimezone: true }).notNull(),
  lostShards: integer('lost_shards').notNull().default(0),
  badShards: integer('bad_shards').notNull().default(0),
});
