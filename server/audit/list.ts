/** One page of the audit log for the console: filtered (filter.ts), ordered by an allow-listed column, with the total. */
import { asc, count, desc, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { auditEvents } from '../../db/schema';
import { type AuditFilterFields, auditConditions } from './filter';

/** What the audit page may be ordered by; each maps to a column here, never to a name from the caller. */
export const AUDIT_SORT_KEYS = ['at', 'actor', 'action', 'outcome', 'target'] as const;
export type AuditSortKey = (typeof AUDIT_SORT_KEYS)[number];
const COLUMNS = { at: auditEvents.at, actor: auditEvents.actor, action: auditEvents.action, outcome: auditEvents.outcome, target: auditEvents.target } satisfies Record<AuditSortKey, unknown>;

export interface AuditPageFilter extends AuditFilterFields {
  /** Default: newest first. */
  sort?: { key: AuditSortKey; dir: 'asc' | 'desc' };
  limit: number;
  offset: number;
}

/** The column, then the id the same way: a total order, so pages neither repeat nor skip an event. Events without a target last. */
function order({ key, dir }: NonNullable<AuditPageFilter['sort']>): SQL[] {
  const by = dir === 'asc' ? asc : desc;
  const first = key === 'target' ? (dir === 'asc' ? sql`${COLUMNS.target} ASC NULLS LAST` : sql`${COLUMNS.target} DESC NULLS LAST`) : by(COLUMNS[key]);
  return [first, by(auditEvents.id)];
}

export async function listAudit(db: Db, f: AuditPageFilter) {
  const cond = auditConditions(f);
  const [rows, [total]] = await Promise.all([
    db.select().from(auditEvents).where(cond).orderBy(...order(f.sort ?? { key: 'at', dir: 'desc' })).limit(f.limit).offset(f.offset),
    db.select({ n: count() }).from(auditEvents).where(cond),
  ]);
  return {
    events: rows.map((r) => ({ id: r.id, at: r.at.toISOString(), actor: r.actor, action: r.action, target: r.target, outcome: r.outcome, details: r.details })),
    total: total?.n ?? 0,
  };
}
