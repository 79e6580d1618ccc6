/**
 * Open alerts by severity over time (the dashboard's alerts chart): how many alerts were open (or
 * acknowledged, not yet resolved) at evenly spaced instants. An alert counts under its current severity;
 * an escalation is not dated, so a warning that became critical counts as critical for its whole life.
 */
import { and, isNull, lt, or, gt } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { alerts } from '../../db/schema';
import type { Severity } from './alert-store';

export interface AlertSpan {
  severity: Severity;
  opened_at: Date;
  resolved_at: Date | null;
}

export interface OpenAlertsPoint {
  at: string;
  warning: number;
  critical: number;
}

/** Counts at `steps + 1` instants from `from` to `to` (both included). Pure. */
export function openAlertSeries(spans: AlertSpan[], from: Date, to: Date, steps: number): OpenAlertsPoint[] {
  const out: OpenAlertsPoint[] = [];
  const span = to.getTime() - from.getTime();
  for (let i = 0; i <= steps; i++) {
    const t = from.getTime() + (span * i) / steps;
    const point = { at: new Date(t).toISOString(), warning: 0, critical: 0 };
    for (const a of spans) if (a.opened_at.getTime() <= t && (a.resolved_at === null || a.resolved_at.getTime() > t)) point[a.severity]++;
    out.push(point);
  }
  return out;
}

/** The series over the last `hours`, one point per `hours / steps`, ending now. */
export async function openAlertHistory(db: Db, hours: number, now: Date, steps = 48): Promise<OpenAlertsPoint[]> {
  const from = new Date(now.getTime() - hours * 3_600_000);
  const rows = await db
    .select({ severity: alerts.severity, opened_at: alerts.openedAt, resolved_at: alerts.resolvedAt })
    .from(alerts)
    .where(and(lt(alerts.openedAt, now), or(isNull(alerts.resolvedAt), gt(alerts.resolvedAt, from))));
  return openAlertSeries(rows as AlertSpan[], from, now, steps);
}
