/**
 * Restore drills: a backup (or a seeded sample of its files) restored into a scratch directory and compared
 * with its manifest. One row per drill; the dashboard's last-drill-per-source and RTO trend read it.
 */
import { bigint, doublePrecision, index, integer, jsonb, pgTable, real, text, timestamp } from 'drizzle-orm/pg-core';

export const restoreDrills = pgTable(
  'restore_drills',
  {
    id: text('id').primaryKey(),
    backupId: text('backup_id').notNull(),
    /** The backup's sources, copied: the drill stays readable after its backup is deleted. */
    sources: jsonb('sources').$type<string[]>().notNull().default([]),
    status: text('status').notNull(), // running | passed | failed
    /** Percent of files restored (100: the whole backup) and the sample's seed, so a sample can be repeated. */
    samplePercent: real('sample_percent').notNull().default(100),
    seed: integer('seed'),
    startedAt: timestamp('started_at', { withTimezone: true }).notNull(),
    finishedAt: timestamp('finished_at', { withTimezone: true }),
    /** Measured restore time of what was restored, and the RTO: that time scaled to the whole backup by bytes. */
    measuredSeconds: doublePrecision('measured_seconds'),
    rtoSeconds: doublePrecision('rto_seconds'),
    filesChecked: integer('files_checked').notNull().default(0),
    bytesChecked: bigint('bytes_checked', { mode: 'number' }).notNull().default(0),
    /** 'sha256' when every checked file had a manifest hash; 'chunks' when some were checked by authenticated chunk reads only (older manifests). */
    method: text('method'),
    error: text('error'),
    actor: text('actor').notNull().default('system'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index('restore_drills_started_idx').on(t.startedAt), index('restore_drills_backup_idx').on(t.backupId)],
);
