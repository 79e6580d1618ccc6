/**
 * Free disk space of the storage locations: a local location reads its file system's free and total bytes
 * (statfs), so usage %, the usage chart, capacity-aware placement and `storage_usage` alerts work without
 * `max_size_gb`. S3, Azure Blob and GCS report no quota or free space through their APIs: for them only
 * `max_size_gb` bounds a location. Readings are kept for SPACE_MAX_AGE_MS; writes in between are taken off
 * the free bytes as they happen (locations.ts).
 */
import type { EngineContext } from '../context';
import type { Location } from './locations';

export const SPACE_MAX_AGE_MS = 30_000;

/** Reads the free space of every enabled location whose reading is older than `maxAgeMs`; a failed read leaves it unknown (logged). */
export async function refreshSpace(ctx: Pick<EngineContext, 'locations' | 'log'>, maxAgeMs = SPACE_MAX_AGE_MS, now = Date.now()): Promise<void> {
  await Promise.all(
    ctx.locations.enabled().map(async (l) => {
      if (!l.backend.space || (l.space && now - l.space.checkedAt < maxAgeMs)) return;
      try {
        const s = await l.backend.space();
        l.space = { ...s, checkedAt: now };
      } catch (err) {
        l.space = null;
        ctx.log(`storage location ${l.name}: ${(err as Error).message}`);
      }
    }),
  );
}

export interface SpaceFigures {
  /** What bounds the location: max_size_gb, its file system, or nothing known (a cloud bucket without max_size_gb). */
  capacity_source: 'max_size_gb' | 'file_system' | null;
  capacity_bytes: number | null;
  free_bytes: number | null;
  total_bytes: number | null;
  usage_percentage: number | null;
}

/**
 * The usage of one location: with max_size_gb, this installation's bytes against it (the capacity the admin
 * set); without it, how full the location's file system is (other data on the disk counts: it is the disk
 * that fills up). Free and total bytes are reported either way, and placement respects both (locations.ts).
 */
export function spaceFigures(l: Pick<Location, 'config' | 'space'>, usedBytes: number): SpaceFigures {
  const cap = l.config.max_size_gb ? l.config.max_size_gb * 1024 ** 3 : null;
  const disk = l.space && l.space.totalBytes > 0 ? l.space : null;
  const pct = (n: number) => Math.round(n * 10000) / 100;
  const byCap = cap ? usedBytes / cap : null;
  const byDisk = disk ? (disk.totalBytes - disk.freeBytes) / disk.totalBytes : null;
  const share = byCap ?? byDisk;
  return {
    capacity_source: cap ? 'max_size_gb' : disk ? 'file_system' : null,
    capacity_bytes: cap ?? disk?.totalBytes ?? null,
    free_bytes: disk ? disk.freeBytes : null,
    total_bytes: disk ? disk.totalBytes : null,
    usage_percentage: share === null ? null : pct(share),
  };
}
