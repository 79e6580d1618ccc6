/**
 * The base of an incremental (last completed backup of the same sources) or differential (last completed
 * full backup of the same sources) backup, loaded as a path → entry index plus its chunk table.
 */
import { and, desc, eq, sql } from 'drizzle-orm';
import { backups } from '../../../db/schema';
import type { BaseIndex } from './backup';
import type { BackupRow } from '../catalog/catalog';
import type { EngineContext } from '../context';
import { ShardReader } from '../restore/shard-reader';
import { EngineError } from '../errors';
import { parseEntry, type ManifestEntry } from '../repository/manifest';
import { racyFrom } from './same-file';
import type { BackupType, SecurityLevel } from '../types';
import { readChunkTable } from '../repository/chunk-table';

export async function findBase(ctx: EngineContext, type: BackupType, sources: string[], level: string): Promise<BackupRow | null> {
  const conds = [eq(backups.status, 'completed'), eq(backups.securityLevel, level), sql`${backups.sources} = ${JSON.stringify(sources)}::jsonb`];
  if (type === 'differential') conds.push(eq(backups.backupType, 'full'));
  const [row] = await ctx.db.select().from(backups).where(and(...conds)).orderBy(desc(backups.completedAt)).limit(1);
  return row ?? null;
}

export async function loadBaseIndex(ctx: EngineContext, row: BackupRow): Promise<BaseIndex> {
  const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel);
  const { files, chunks } = row.manifestShards;
  await reader.load([...files, ...chunks]);
  const chunkIds = await readChunkTable(reader.lines(chunks));
  // The entries are read while the backup walks (base-join.ts), a few shards ahead, never all at once; in
  // batches of a few hundred, so that the join pays an asynchronous step per batch, not per file.
  async function* entries(): AsyncGenerator<ManifestEntry[]> {
    try {
      for await (const lines of reader.lineBatches(files)) yield lines.map(parseEntry);
    } catch (err) {
      const why = (err as Error).message.replace(/\.?$/, '.');
      throw new EngineError('INTEGRITY', `The manifest of base backup ${row.id} cannot be read: ${why} Run plexichat-backup verify ${row.id} (and repair), or make a full backup.`);
    }
  }
  // A backup rebuilt from storage may have no start time: its catalog creation time stands in for it.
  return { backupId: row.id, racyFrom: racyFrom(row.startedAt ?? row.createdAt), entries, files: row.fileCount, bytes: row.originalSize, chunkIds };
}
