/**
 * The audit log as CSV (RFC 4180), read in pages so an export of millions of events never sits in memory.
 * Safe to open in a spreadsheet: a cell that starts with = + - @ (or a tab or carriage return) is prefixed
 * with a single quote, so it is shown as text, never run as a formula (OWASP "CSV injection").
 * Framework-free.
 */
import { and, desc, lt, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { auditEvents } from '../../db/schema';
import { type AuditFilterFields, auditConditions } from './filter';

export const AUDIT_CSV_HEADER = ['time_utc', 'actor', 'action', 'outcome', 'target', 'details'] as const;

const FORMULA_START = /^[=+\-@\t\r]/;

/** One CSV cell: defused if a spreadsheet would read it as a formula, then quoted with inner quotes doubled. */
export function csvCell(value: unknown): string {
  let s = value === null || value === undefined ? '' : typeof value === 'string' ? value : JSON.stringify(value);
  if (FORMULA_START.test(s)) s = `'${s}`;
  return `"${s.replace(/"/g, '""')}"`;
}

export function csvRow(cells: unknown[]): string {
  return `${cells.map(csvCell).join(',')}\r\n`;
}

type AuditRow = typeof auditEvents.$inferSelect;

export function auditCsvRow(r: Pick<AuditRow, 'at' | 'actor' | 'action' | 'outcome' | 'target' | 'details'>): string {
  const details = r.details && Object.keys(r.details).length ? JSON.stringify(r.details) : '';
  return csvRow([r.at.toISOString(), r.actor, r.action, r.outcome, r.target, details]);
}

/** The header, then every matching event, newest first, `pageSize` rows per query (keyset on id). */
export async function* auditCsv(db: Db, filter: AuditFilterFields, pageSize = 1000): AsyncGenerator<string> {
  yield csvRow([...AUDIT_CSV_HEADER]);
  const cond = auditConditions(filter);
  let before: number | null = null;
  for (;;) {
    const where: SQL | undefined = before === null ? cond : and(cond, lt(auditEvents.id, before));
    const rows: AuditRow[] = await db.select().from(auditEvents).where(where).orderBy(desc(auditEvents.id)).limit(pageSize);
    if (rows.length) yield rows.map(auditCsvRow).join('');
    if (rows.length < pageSize) return;
    before = rows[rows.length - 1]!.id;
  }
}
