/**
 * The storage locations of an installation and the placement policy: each shard goes to
 * `replication_factor` distinct locations, by priority (lower value first), skipping locations that are
 * disabled, full (max_size_gb, or a file system without the room: statfs, see location-space.ts) or failing,
 * and spreading replicas across regions when it can.
 */
import type { StorageLocationConfig } from '../../config';
import type { StorageBackend, StorageSpace } from './backend';

export interface Location {
  name: string;
  config: StorageLocationConfig;
  backend: StorageBackend;
  usedBytes: number;
  /** Consecutive failures; a location failing repeatedly is skipped for a while. */
  failures: number;
  lastError: string | null;
  unhealthyUntil: number;
  /**
   * Free and total bytes of the store (a local location's file system), as last read; absent where the
   * provider reports none (S3, Azure Blob, GCS). Writes made since the reading are taken off `freeBytes`.
   */
  space?: (StorageSpace & { checkedAt: number }) | null;
  /** Operations and errors seen since start, for the error rate. */
  ops: number;
  errors: number;
}

const UNHEALTHY_AFTER = 3;
const UNHEALTHY_FOR_MS = 60_000;

export class LocationSet {
  constructor(
    readonly all: Location[],
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Swaps the locations in place (a reload): everything that holds this set sees the new ones at its next
   * call, while a call in progress keeps the Location objects it already picked.
   */
  replace(next: Location[]): void {
    this.all.splice(0, this.all.length, ...next);
  }

  get(name: string): Location | undefined {
    return this.all.find((l) => l.name === name);
  }

  enabled(): Location[] {
    return this.all.filter((l) => l.config.enabled);
  }

  capacity(l: Location): number | null {
    return l.config.max_size_gb ? l.config.max_size_gb * 1024 ** 3 : null;
  }

  /** Bytes that may still be written: the least of what max_size_gb leaves and the file system's free space; null = no known limit. */
  room(l: Location): number | null {
    const cap = this.capacity(l);
    const byCap = cap === null ? null : cap - l.usedBytes;
    const byDisk = l.space ? l.space.freeBytes : null;
    if (byCap === null) return byDisk;
    return byDisk === null ? byCap : Math.min(byCap, byDisk);
  }

  healthy(l: Location): boolean {
    return l.unhealthyUntil <= this.now();
  }

  /**
   * Candidate locations for a new object of `size` bytes, best first. Healthy locations with room come first;
   * among them, each pick prefers a region not used yet. Callers take the first `n` that accept the write.
   */
  candidates(size: number, exclude: Set<string> = new Set()): Location[] {
    const fits = (l: Location) => {
      const room = this.room(l);
      return room === null || size <= room;
    };
    const pool = this.enabled()
      .filter((l) => !exclude.has(l.name) && fits(l))
      .sort((a, b) => Number(this.healthy(b)) - Number(this.healthy(a)) || a.config.priority - b.config.priority || a.name.localeCompare(b.name));
    const out: Location[] = [];
    const regions = new Set<string>();
    while (pool.length) {
      const idx = pool.findIndex((l) => !regions.has(l.config.region) && this.healthy(l));
      const [pick] = pool.splice(idx >= 0 ? idx : 0, 1);
      out.push(pick!);
      regions.add(pick!.config.region);
    }
    return out;
  }

  recordSuccess(l: Location, bytesAdded = 0): void {
    l.ops++;
    l.usedBytes += bytesAdded;
    if (l.space && bytesAdded > 0) l.space.freeBytes = Math.max(0, l.space.freeBytes - bytesAdded);
    l.failures = 0;
    l.unhealthyUntil = 0;
  }

  recordFailure(l: Location, err: unknown): void {
    l.ops++;
    l.errors++;
    l.failures++;
    l.lastError = err instanceof Error ? err.message : String(err);
    if (l.failures >= UNHEALTHY_AFTER) l.unhealthyUntil = this.now() + UNHEALTHY_FOR_MS;
  }
}
