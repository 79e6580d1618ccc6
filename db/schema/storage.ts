import { bigint, boolean, integer, jsonb, pgTable, real, text, timestamp } from 'drizzle-orm/pg-core';

/** Storage locations as the console manages them; credentials live only in `secrets`, encrypted under the master key. */
export const storageLocations = pgTable('storage_locations', {
  name: text('name').primaryKey(),
  type: text('type').notNull(),
  settings: jsonb('settings').$type<Record<string, unknown>>().notNull().default({}),
  secrets: text('secrets'), // AES-256-GCM sealed JSON, never returned by the API
  priority: integer('priority').notNull().default(10),
  maxSizeGb: real('max_size_gb'),
  region: text('region').notNull().default('local'),
  enabled: boolean('enabled').notNull().default(true),
  usedBytes: bigint('used_bytes', { mode: 'number' }).notNull().default(0),
  objectCount: integer('object_count').notNull().default(0),
  healthy: boolean('healthy').notNull().default(true),
  lastError: text('last_error'),
  latencyMs: real('latency_ms'),
  lastCheckedAt: timestamp('last_checked_at', { withTimezone: true }),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
});
