/**
 * Free disk space of local locations (statfs of the real file system): the figures, usage % without
 * max_size_gb, and placement that skips a location whose file system has no room for the object.
 */
import { mkdtemp, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageLocationConfig } from '../../server/config';
import { refreshSpace, spaceFigures } from '../../server/engine/storage/location-space';
import { type Location, LocationSet } from '../../server/engine/storage/locations';
import { createBackend } from '../../server/engine/storage/factory';
import type { StorageBackend } from '../../server/engine/storage/backend';
import { MemoryBackend } from '../../server/engine/storage/memory';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pxspace-'));
});
afterAll(async () => rm(dir, { recursive: true, force: true }));

async function localLocation(name: string, extra: Partial<StorageLocationConfig> = {}): Promise<Location> {
  const config: StorageLocationConfig = { name, type: 'local', path: path.join(dir, name), priority: 10, region: 'local', enabled: true, ...extra };
  const backend = await createBackend(config, { timeoutMs: 5000, retries: 0, backoffMs: 0 });
  await backend.init();
  return { name, config, backend, usedBytes: 0, failures: 0, lastError: null, unhealthyUntil: 0, ops: 0, errors: 0 };
}

describe('free space of local locations', () => {
  it('reads free and total bytes of the file system holding the location (statfs)', async () => {
    const l = await localLocation('a');
    const s = await l.backend.space!();
    const real = await statfs(dir);
    expect(s.totalBytes).toBe(real.blocks * real.bsize);
    // Other processes write to the same disk meanwhile: equal within a few MiB.
    expect(Math.abs(s.freeBytes - real.bavail * real.bsize)).toBeLessThan(64 * 1024 * 1024);
    expect(s.freeBytes).toBeGreaterThan(0);
    expect(s.freeBytes).toBeLessThanOrEqual(s.totalBytes);
  });

  it('cloud-like stores report no space: usage stays unknown without max_size_gb', () => {
    expect((new MemoryBackend('m') as StorageBackend).space).toBeUndefined();
    expect(spaceFigures({ config: { name: 'm', type: 's3', priority: 1, region: 'r', enabled: true }, space: null }, 10)).toEqual({
      capacity_source: null,
      capacity_bytes: null,
      free_bytes: null,
      total_bytes: null,
      usage_percentage: null,
    });
  });

  it('usage % of a location without max_size_gb is how full its file system is', async () => {
    const l = await localLocation('b');
    await refreshSpace({ locations: new LocationSet([l]), log: () => undefined });
    const real = await statfs(dir);
    const f = spaceFigures(l, 1234);
    expect(f.capacity_source).toBe('file_system');
    expect(f.capacity_bytes).toBe(real.blocks * real.bsize);
    const expected = ((real.blocks * real.bsize - real.bavail * real.bsize) / (real.blocks * real.bsize)) * 100;
    expect(f.usage_percentage!).toBeGreaterThan(0);
    expect(Math.abs(f.usage_percentage! - expected)).toBeLessThan(0.5);
    // With max_size_gb the configured capacity rules the percentage; free and total are still reported.
    const capped = spaceFigures({ ...l, config: { ...l.config, max_size_gb: 1 } }, 256 * 1024 ** 2);
    expect(capped).toMatchObject({ capacity_source: 'max_size_gb', capacity_bytes: 1024 ** 3, usage_percentage: 25, total_bytes: real.blocks * real.bsize });
  });

  it('placement skips a location whose file system cannot take the object, and counts writes against the free space', async () => {
    const disk = await localLocation('disk', { priority: 1 });
    // A store reporting no free space (as S3, Azure Blob and GCS): never skipped for it.
    const other: Location = { name: 'other', config: { name: 'other', type: 's3', priority: 2, region: 'local', enabled: true }, backend: new MemoryBackend('other'), usedBytes: 0, failures: 0, lastError: null, unhealthyUntil: 0, ops: 0, errors: 0 };
    const set = new LocationSet([disk, other]);
    await refreshSpace({ locations: set, log: () => undefined });
    const free = disk.space!.freeBytes;
    expect(set.candidates(1024).map((l) => l.name)).toEqual(['disk', 'other']);
    expect(set.candidates(free + 1).map((l) => l.name)).toEqual(['other']);
    set.recordSuccess(disk, free - 100);
    expect(set.candidates(200).map((l) => l.name)).toEqual(['other']);
    expect(set.candidates(100).map((l) => l.name)).toEqual(['disk', 'other']);
    // A fresh reading replaces the running tally.
    await refreshSpace({ locations: set, log: () => undefined }, 0);
    expect(disk.space!.freeBytes).toBeGreaterThan(free / 2);
  });
});
