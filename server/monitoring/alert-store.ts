/**
 * Alerts in the catalog. One not-resolved alert per subject key (a partial unique index): raising the
 * same condition again while it is open only touches last_seen_at, so nothing is sent twice.
 */
import { and, desc, eq, gte, inArray, ne, sql, type SQL } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/client';
import { alerts } from '../../db/schema';
import { notFound } from '../engine/errors';

export type AlertRow = typeof alerts.$inferSelect;
export type Severity = 'warning' | 'critical';
export const ALERT_STATES = ['open', 'acknowledged', 'resolved'] as const;
export type AlertState = (typeof ALERT_STATES)[number];

export interface RaiseInput {
  rule: string;
  subjectKey: string;
  severity: Severity;
  message: string;
  /** Console path (e.g. /backups/<id>); null = the alert's own page /alerts/<id>. */
  path: string | null;
  details?: Record<string, unknown>;
}

export const newAlertId = () => `alert_${Date.now()}_${randomBytes(3).toString('hex')}`;

/** Opens an alert, or escalates/refreshes the open one. `event` says what (if anything) to notify. */
export async function raiseAlert(db: Db, input: RaiseInput, publicUrl: string, now: Date): Promise<{ row: AlertRow; event: 'opened' | 'escalated' | null }> {
  const id = newAlertId();
  const link = `${publicUrl.replace(/\/$/, '')}${input.path ?? `/alerts/${id}`}`;
  const inserted = await db
    .insert(alerts)
    .values({ id, rule: input.rule, subjectKey: input.subjectKey, severity: input.severity, message: input.message, link, details: input.details ?? {}, openedAt: now, lastSeenAt: now })
    .onConflictDoNothing({ target: alerts.subjectKey, where: sql`state <> 'resolved'` })
    .returning();
  if (inserted[0]) return { row: inserted[0], event: 'opened' };
  const [open] = await db.select().from(alerts).where(and(eq(alerts.subjectKey, input.subjectKey), ne(alerts.state, 'resolved')));
  if (!open) return raiseAlert(db, input, publicUrl, now); // resolved in between: open a new one
  const escalate = open.severity === 'warning' && input.severity === 'critical';
  const [row] = await db
    .update(alerts)
    .set({ lastSeenAt: now, ...(escalate ? { severity: 'critical', message: input.message, details: input.details ?? open.details } : {}) })
    .where(and(eq(alerts.id, open.id), escalate ? eq(alerts.severity, 'warning') : sql`true`))
    .returning();
  return { row: row ?? open, event: escalate && row ? 'escalated' : null };
}

/** Resolves the open alert of this subject, if any; returns it (to send one "resolved" message). */
export async function resolveAlert(db: Db, subjectKey: string, now: Date, note?: string): Promise<AlertRow | null> {
  const [row] = await db
    .update(alerts)
    .set({ state: 'resolved', resolvedAt: now, lastSeenAt: now, ...(note ? { details: sql`${alerts.details} || ${JSON.stringify({ resolution: note })}::jsonb` } : {}) })
    .where(and(eq(alerts.subjectKey, subjectKey), ne(alerts.state, 'resolved')))
    .returning();
  return row ?? null;
}

/** Open subjects whose key starts with `prefix` (to resolve conditions that are gone). */
export async function openSubjects(db: Db, prefix: string): Promise<string[]> {
  const rows = await db.select({ k: alerts.subjectKey }).from(alerts).where(and(ne(alerts.state, 'resolved'), sql`${alerts.subjectKey} LIKE ${`${prefix}%`}`));
  return rows.map((r) => r.k);
}

export async function acknowledgeAlert(db: Db, id: string, by: string, now: Date): Promise<AlertRow> {
  const [row] = await db.update(alerts).set({ state: 'acknowledged', acknowledgedAt: now, acknowledgedBy: by }).where(and(eq(alerts.id, id), eq(alerts.state, 'open'))).returning();
  if (row) return row;
  return getAlert(db, id);
}

export async function getAlert(db: Db, id: string): Promise<AlertRow> {
  const [row] = await db.select().from(alerts).where(eq(alerts.id, id));
  if (!row) throw notFound(`Alert ${id}`, 'open the alerts page to see existing alerts');
  return row;
}

export interface AlertFilter {
  states?: AlertState[];
  severity?: Severity;
  since?: Date;
  limit?: number;
}

export async function listAlerts(db: Db, f: AlertFilter = {}): Promise<AlertRow[]> {
  const c: SQL[] = [];
  if (f.states?.length) c.push(inArray(alerts.state, f.states));
  if (f.severity) c.push(eq(alerts.severity, f.severity));
  if (f.since) c.push(gte(alerts.lastSeenAt, f.since));
  return db
    .select()
    .from(alerts)
    .where(and(...c))
    .orderBy(desc(alerts.openedAt))
    .limit(Math.min(f.limit ?? 200, 1000));
}

export function alertView(r: AlertRow) {
  return {
    id: r.id,
    rule: r.rule,
    subject_key: r.subjectKey,
    severity: r.severity as Severity,
    state: r.state as AlertState,
    message: r.message,
    link: r.link,
    details: r.details,
    opened_at: r.openedAt.toISOString(),
    last_seen_at: r.lastSeenAt.toISOString(),
    acknowledged_at: r.acknowledgedAt?.toISOString() ?? null,
    acknowledged_by: r.acknowledgedBy,
    resolved_at: r.resolvedAt?.toISOString() ?? null,
  };
}
export type AlertView = ReturnType<typeof alertView>;
