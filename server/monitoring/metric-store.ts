/** Time series of the health monitor in the catalog (metric_samples): write, latest values, history. */
import { and, asc, eq, gte, lt, sql } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { metricSamples } from '../../db/schema';

export interface Sample {
  name: string;
  labels?: Record<string, string>;
  value: number;
}

export async function recordSamples(db: Db, samples: Sample[], at: Date): Promise<void> {
  if (!samples.length) return;
  await db.insert(metricSamples).values(samples.map((s) => ({ name: s.name, labels: s.labels ?? {}, value: Number.isFinite(s.value) ? s.value : 0, at })));
}

/** The newest value of every (name, labels) series. */
export async function latestSamples(db: Db): Promise<(Sample & { at: string })[]> {
  const r = await db.execute<{ name: string; labels: Record<string, string>; value: number; at: Date | string }>(sql`
    SELECT DISTINCT ON (name, labels) name, labels, value, at FROM metric_samples
    WHERE at > now() - interval '7 days' ORDER BY name, labels, at DESC`);
  return r.rows.map((x) => ({ name: x.name, labels: x.labels, value: Number(x.value), at: new Date(x.at).toISOString() }));
}

/** One series over time (the dashboard's charts). */
export async function history(db: Db, name: string, since: Date): Promise<{ labels: Record<string, string>; value: number; at: string }[]> {
  const rows = await db
    .select()
    .from(metricSamples)
    .where(and(eq(metricSamples.name, name), gte(metricSamples.at, since)))
    .orderBy(asc(metricSamples.at))
    .limit(5000);
  return rows.map((r) => ({ labels: r.labels, value: r.value, at: r.at.toISOString() }));
}

export async function pruneSamples(db: Db, before: Date): Promise<void> {
  await db.delete(metricSamples).where(lt(metricSamples.at, before));
}

/** Open (not resolved) alerts by severity, for /api/metrics and the dashboard. */
export async function openAlertCounts(db: Db): Promise<{ warning: number; critical: number }> {
  const r = await db.execute<{ severity: string; n: number }>(sql`SELECT severity, count(*)::int AS n FROM alerts WHERE state <> 'resolved' GROUP BY severity`);
  const get = (s: string) => Number(r.rows.find((x) => x.severity === s)?.n ?? 0);
  return { warning: get('warning'), critical: get('critical') };
}
