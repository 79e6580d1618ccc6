import { index, pgTable, primaryKey, text, timestamp } from 'drizzle-orm/pg-core';

/**
 * Objects written under a store's write-once lock (immutability) or to an append-only location, and what
 * became of them. `locked_until` is the latest retain-until this installation set (null: append-only, no
 * date). `released_at` is set when the catalog no longer needs the object but the store refused to delete it
 * yet: storage gc and prune delete it once the lock has expired, then drop the row.
 */
export const objectLocks = pgTable(
  'object_locks',
  {
    location: text('location').notNull(),
    key: text('key').notNull(),
    mode: text('mode').notNull(), // governance | compliance | append_only
    lockedUntil: timestamp('locked_until', { withTimezone: true }),
    releasedAt: timestamp('released_at', { withTimezone: true }),
    /** What released it: "backup <id> deleted", "orphan", "catalog snapshot pruned". */
    releasedBy: text('released_by'),
  },
  (t) => [primaryKey({ columns: [t.location, t.key] }), index('object_locks_released_idx').on(t.releasedAt)],
);
