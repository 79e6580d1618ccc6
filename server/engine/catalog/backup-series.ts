/**
 * The dashboard's figures over recent backups, computed by aggregate SQL over the last `days` days (read
 * through backups_created_id_idx) instead of loading backup rows: backups per UTC day, the last 24 h and
 * 7 days, and the throughput of each completed backup (at most the newest THROUGHPUT_POINTS).
 */
import { sql } from 'drizzle-orm';
import type { Db } from '../../../db/client';

const DAY = 86_400_000;
/** The throughput chart's points: more would not be told apart on it. */
export const THROUGHPUT_POINTS = 1000;

export interface DayCounts {
  day: string; // YYYY-MM-DD (UTC)
  completed: number;
  failed: number;
  bytes: number;
}

export interface WindowCounts {
  total: number;
  completed: number;
  failed: number;
  bytes: number;
}

export interface ThroughputPoint {
  at: string;
  backup_id: string;
  mbps: number;
  bytes: number;
}

export interface BackupSeries {
  /** One entry per day with backups, oldest first (days without any are left out). */
  days: DayCounts[];
  last24h: WindowCounts;
  last7d: WindowCounts;
  throughput: ThroughputPoint[];
}

export async function backupSeries(db: Db, now: Date, days = 14): Promise<BackupSeries> {
  const end = now.getTime();
  // The first bucket is the UTC day `days - 1` days ago, from its midnight.
  const firstDay = new Date(`${new Date(end - (days - 1) * DAY).toISOString().slice(0, 10)}T00:00:00Z`);
  const since = new Date(Math.min(firstDay.getTime(), end - 7 * DAY));
  const [perDay, windows, points] = await Promise.all([
    db.execute<{ day: string; completed: number; failed: number; bytes: number }>(sql`
      SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
        count(*) FILTER (WHERE status = 'completed') AS completed, count(*) FILTER (WHERE status = 'failed') AS failed,
        COALESCE(sum(original_size) FILTER (WHERE status = 'completed'), 0) AS bytes
      FROM backups WHERE created_at >= ${firstDay.toISOString()}::timestamptz GROUP BY 1 ORDER BY 1`),
    db.execute<Record<string, number>>(sql`
      SELECT ${windowColumns(new Date(end - DAY), 'd1')}, ${windowColumns(new Date(end - 7 * DAY), 'd7')}
      FROM backups WHERE created_at >= ${since.toISOString()}::timestamptz`),
    db.execute<{ id: string; completed_at: Date | string; throughput_mbps: number; original_size: number }>(sql`
      SELECT id, completed_at, throughput_mbps, original_size FROM backups
      WHERE status = 'completed' AND completed_at >= ${new Date(end - days * DAY).toISOString()}::timestamptz
      ORDER BY completed_at DESC LIMIT ${THROUGHPUT_POINTS}`),
  ]);
  const w = windows.rows[0] ?? {};
  const window = (p: string): WindowCounts => ({ total: Number(w[`${p}_total`] ?? 0), completed: Number(w[`${p}_completed`] ?? 0), failed: Number(w[`${p}_failed`] ?? 0), bytes: Number(w[`${p}_bytes`] ?? 0) });
  return {
    days: perDay.rows.map((r) => ({ day: r.day, completed: Number(r.completed), failed: Number(r.failed), bytes: Number(r.bytes) })),
    last24h: window('d1'),
    last7d: window('d7'),
    throughput: points.rows
      .map((r) => ({ at: new Date(r.completed_at).toISOString(), backup_id: r.id, mbps: Number(r.throughput_mbps), bytes: Number(r.original_size) }))
      .reverse(),
  };
}

function windowColumns(from: Date, p: string) {
  const inside = sql`created_at >= ${from.toISOString()}::timestamptz`;
  return sql`count(*) FILTER (WHERE ${inside}) AS ${sql.identifier(`${p}_total`)},
    count(*) FILTER (WHERE ${inside} AND status = 'completed') AS ${sql.identifier(`${p}_completed`)},
    count(*) FILTER (WHERE ${inside} AND status = 'failed') AS ${sql.identifier(`${p}_failed`)},
    COALESCE(sum(original_size) FILTER (WHERE ${inside} AND status = 'completed'), 0) AS ${sql.identifier(`${p}_bytes`)}`;
}
