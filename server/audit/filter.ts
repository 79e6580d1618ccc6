/** The audit log's filters, as SQL conditions: one place for the console's list and its CSV export. */
import { and, eq, ilike, type SQL } from 'drizzle-orm';
import { auditEvents } from '../../db/schema';

export interface AuditFilterFields {
  /** Actions starting with this ("auth." or "backup.delete"). */
  action?: string;
  /** Actors containing this. */
  actor?: string;
  outcome?: string;
}

const escapeLike = (s: string) => s.replace(/[%_\\]/g, '\\$&');

export function auditConditions(f: AuditFilterFields): SQL | undefined {
  const where: SQL[] = [];
  if (f.action) where.push(ilike(auditEvents.action, `${escapeLike(f.action)}%`));
  if (f.actor) where.push(ilike(auditEvents.actor, `%${escapeLike(f.actor)}%`));
  if (f.outcome) where.push(eq(auditEvents.outcome, f.outcome));
  return and(...where);
}
