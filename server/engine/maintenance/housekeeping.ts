/**
 * Deleting backups (and the shards nothing else references), reaping backups whose process died, and the
 * statistics, usage and health views.
 */
import { eq, sql } from 'drizzle-orm';
import { backups, dataKeys } from '../../../db/schema';
import { getBackupRow } from '../catalog/catalog';
import { usageTotals } from '../catalog/usage-totals';
import { backupsAtLocations } from '../catalog/backups-at';
import type { EngineContext } from '../context';
import { EngineError, notFound } from '../errors';
import { deleteShardObjects, deleteUnreferencedRows } from './gc-shards';
import { refreshSpace, spaceFigures } from '../storage/location-space';
import { locationWhere } from '../storage/location-where';
import { keyKey, snapshotKey } from '../repository/repository';
import { type KeptLocked, removeObject } from '../storage/object-locks';
import type { LocationHealth, LocationUsage } from '../types';

/**
 * Deletes a backup, then its shards nothing else references and its snapshot objects. Returns the objects
 * kept because they are still locked (immutability, append-only): recorded, and deleted after the lock.
 */
export async function deleteBackup(ctx: EngineContext, id: string, force: boolean): Promise<KeptLocked[]> {
  const row = await getBackupRow(ctx.db, id);
  if (!row) throw notFound(`Backup ${id}`);
  if (row.status === 'running' && !force) {
    throw new EngineError('CONFLICT', `Backup ${id} is still running; wait for it to finish, or pass --force to delete it anyway.`);
  }
  const refs = await ctx.db.execute<{ shard_id: string }>(sql`SELECT shard_id FROM backup_shards WHERE backup_id = ${id}`);
  await ctx.db.delete(backups).where(eq(backups.id, id));
  const kept = await collectShards(ctx, refs.rows.map((r) => r.shard_id));
  await Promise.all(
    ctx.locations.enabled().map(async (l) => {
      try {
        const r = await removeObject(ctx, l, snapshotKey(id), `backup ${id} deleted`);
        if (!r.deleted) kept.push(r.kept);
      } catch (err) {
        ctx.log(`could not delete snapshot ${id} at ${l.name}: ${(err as Error).message}`);
      }
    }),
  );
  if (row.keyId) await dropKeyIfUnused(ctx, row.keyId);
  return kept;
}

/**
 * Removes the given shards if nothing references them any more: rows locked, references re-checked, rows
 * (with their replica rows) deleted, then the objects (see gc-shards.ts for why a backup reusing one of them
 * at the same moment never loses it). An object whose delete fails is an orphan object for storage gc; a
 * row left behind (the process died before its turn) is an unreferenced shard row, which storage gc
 * collects after its grace period.
 */
export async function collectShards(ctx: EngineContext, candidates: string[]): Promise<KeptLocked[]> {
  const kept: KeptLocked[] = [];
  for (let i = 0; i < candidates.length; i += 200) {
    const gone = await deleteUnreferencedRows(ctx, candidates.slice(i, i + 200), null);
    const done = await deleteShardObjects(ctx, gone, (msg) => ctx.log(msg));
    kept.push(...done.locked);
  }
  return kept;
}

async function dropKeyIfUnused(ctx: EngineContext, keyId: string): Promise<void> {
  const used = await ctx.db.execute(sql`
    SELECT 1 FROM shards WHERE key_id = ${keyId} UNION ALL SELECT 1 FROM backups WHERE key_id = ${keyId} LIMIT 1`);
  if (used.rows.length) return;
  await ctx.db.delete(dataKeys).where(eq(dataKeys.id, keyId));
  await Promise.all(ctx.locations.enabled().map((l) => l.backend.delete(keyKey(keyId)).catch(() => undefined)));
}

export async function getStorageUsage(ctx: EngineContext): Promise<LocationUsage[]> {
  // Replicas and their bytes: the catalog's counters, not a join over every replica (usage-totals.ts).
  const [{ locations: by }, backupsAt] = await Promise.all([usageTotals(ctx.db), backupsAtLocations(ctx.db)]);
  await refreshSpace(ctx);
  return ctx.locations.all.map((l) => {
    const u = by.get(l.name);
    const used = Number(u?.bytes ?? 0);
    return {
      name: l.name,
      type: l.config.type,
      region: l.config.region,
      where: locationWhere(l.config),
      priority: l.config.priority,
      backups: backupsAt.get(l.name) ?? 0,
      used_bytes: used,
      objects: Number(u?.objects ?? 0),
      ...spaceFigures(l, used),
      healthy: ctx.locations.healthy(l),
    };
  });
}

export async function getStorageHealth(ctx: EngineContext): Promise<LocationHealth[]> {
  return Promise.all(
    ctx.locations.all.map(async (l) => {
      const t0 = performance.now();
      let reachable = true;
      try {
        await l.backend.ping();
        ctx.locations.recordSuccess(l);
      } catch (err) {
        reachable = false;
        ctx.locations.recordFailure(l, err);
      }
      return {
        name: l.name,
        type: l.config.type,
        reachable,
        latency_ms: reachable ? Math.round((performance.now() - t0) * 100) / 100 : null,
        error_rate: l.ops ? Math.round((l.errors / l.ops) * 10000) / 10000 : 0,
        last_error: l.lastError,
        checked_at: ctx.now().toISOString(),
      };
    }),
  );
}

