import { bigserial, index, jsonb, pgTable, text, timestamp } from 'drizzle-orm/pg-core';

export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    at: timestamp('at', { withTimezone: true }).notNull().defaultNow(),
    actor: text('actor').notNull(), // user email, `cli:<os user>`, or `system`
    action: text('action').notNull(), // e.g. backup.create, backup.delete, key.use, auth.signin
    target: text('target'),
    outcome: text('outcome').notNull().default('success'), // success | failure | denied
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [index('audit_at_idx').on(t.at), index('audit_action_idx').on(t.action)],
);
