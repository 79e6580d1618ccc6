import { pgTable, text, timestamp } from 'drizzle-orm/pg-core';

/** Per-backup data keys, only ever stored wrapped by the key-encryption key of their security level. */
export const dataKeys = pgTable('data_keys', {
  id: text('id').primaryKey(),
  securityLevel: text('security_level').notNull(),
  algorithm: text('algorithm').notNull(),
  wrappedKey: text('wrapped_key').notNull(),
  kekId: text('kek_id').notNull(),
  createdAt: timestamp('created_at', { withTimezone: true }).notNull().defaultNow(),
  rotatedAt: timestamp('rotated_at', { withTimezone: true }),
});
