/**
 * The backups list: newest first (or by an allow-listed column), filtered, a page at a time. Used by the engine and by CatalogReader
 * (`list` without opening storage); both reap interrupted backups first, so a dead job never lists as running.
 */
import { and, asc, count, desc, eq, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../../db/client';
import { backups } from '../../../db/schema';
import type { EngineContext } from '../context';
import { reapInterrupted } from '../maintenance/reap-interrupted';
import type { BackupMetadata, BackupSortKey, ListBackupsFilter } from '../types';
import { toMetadata } from './catalog';

export async function listBackups(ctx: Pick<EngineContext, 'db' | 'now'>, filter: ListBackupsFilter = {}): Promise<BackupMetadata[]> {
  await reapInterrupted(ctx);
  const rows = await ctx.db
    .select()
    .from(backups)
    .where(and(...listConditions(filter)))
    .orderBy(...listOrder(filter))
    .limit(Math.min(Math.max(filter.limit ?? 100, 1), 1000))
    .offset(Math.max(filter.offset ?? 0, 0));
  return rows.map(toMetadata);
}

const SORT_COLUMNS = {
  created: backups.createdAt,
  backup: backups.id,
  status: backups.status,
  type: backups.backupType,
  size: backups.originalSize,
  files: backups.fileCount,
  duration: backups.durationMs,
} satisfies Record<BackupSortKey, unknown>;

/** The page's order, then the id in the same direction: a total order, so paging neither repeats nor skips a row. */
function listOrder(f: ListBackupsFilter): SQL[] {
  const { key, dir } = f.sort ?? { key: 'created', dir: 'desc' };
  const by = dir === 'asc' ? asc : desc;
  return key === 'backup' ? [by(backups.id)] : [by(SORT_COLUMNS[key]), by(backups.id)];
}

export async function countBackups(db: Db, filter: ListBackupsFilter = {}): Promise<number> {
  const [r] = await db.select({ n: count() }).from(backups).where(and(...listConditions(filter, true)));
  return r?.n ?? 0;
}

/**
 * The list's filters. `forCount`: the same rows, written for a count over all of them. A watcher makes many
 * backups, so the list shows the newest continuous backup of each source set: a page (read newest first
 * from an index, stopping at its end) asks "is there a newer one?" of the few rows it reads, while a count
 * finds the older ones in one pass over the continuous backups and skips them with a hash, instead of
 * one index probe per continuous backup (60 ms at 10,000 backups on PostgreSQL, much more on PGlite).
 */
function listConditions(f: ListBackupsFilter, forCount = false): SQL[] {
  const c: SQL[] = [];
  if (f.userId) c.push(eq(backups.userId, f.userId));
  if (f.backupType) c.push(eq(backups.backupType, f.backupType));
  if (f.status) c.push(eq(backups.status, f.status));
  if (f.tags?.length) c.push(sql`${backups.tags} @> ${JSON.stringify(f.tags)}::jsonb`);
  if (f.collapseContinuous && forCount) {
    c.push(sql`${backups.id} NOT IN (SELECT older.id FROM (
      SELECT id, created_at, max(created_at) OVER (PARTITION BY sources) AS newest FROM backups WHERE backup_type = 'continuous') older
      WHERE older.created_at < older.newest)`);
  } else if (f.collapseContinuous) {
    c.push(sql`NOT (${backups.backupType} = 'continuous' AND EXISTS (
      SELECT 1 FROM backups newer WHERE newer.backup_type = 'continuous' AND newer.sources = ${backups.sources}
        AND newer.created_at > ${backups.createdAt}))`);
  }
  return c;
}
