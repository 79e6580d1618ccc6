/**
 * Placement policy of LocationSet: priority order, capacity, region spread, disabled and unhealthy
 * locations skipped, and recovery of an unhealthy location by itself (injected clock).
 */
import { describe, expect, it } from 'vitest';
import type { StorageLocationConfig } from '../../server/config';
import { type Location, LocationSet } from '../../server/engine/storage/locations';
import { MemoryBackend } from '../../server/engine/storage/memory';

const GB = 1024 ** 3;

function loc(name: string, priority: number, region: string, extra: Partial<StorageLocationConfig> & { usedBytes?: number } = {}): Location {
  const { usedBytes = 0, ...cfg } = extra;
  const config: StorageLocationConfig = { name, type: 'local', path: `/tmp/${name}`, priority, region, enabled: true, ...cfg };
  return { name, config, backend: new MemoryBackend(name), usedBytes, failures: 0, lastError: null, unhealthyUntil: 0, ops: 0, errors: 0 };
}

const names = (ls: Location[]) => ls.map((l) => l.name);

describe('LocationSet placement', () => {
  it('orders candidates by priority (lower first), then by name', () => {
    const set = new LocationSet([loc('c', 30, 'r'), loc('a', 10, 'r'), loc('b2', 20, 'r'), loc('b1', 20, 'r')]);
    expect(names(set.candidates(100))).toEqual(['a', 'b1', 'b2', 'c']);
  });

  it('skips a location that the object would overflow (max_size_gb), keeps one with room', () => {
    const full = loc('full', 10, 'r', { max_size_gb: 1, usedBytes: GB - 50 });
    const set = new LocationSet([full, loc('roomy', 20, 'r', { max_size_gb: 1 }), loc('unbounded', 30, 'r')]);
    expect(names(set.candidates(100))).toEqual(['roomy', 'unbounded']);
    expect(names(set.candidates(50))).toEqual(['full', 'roomy', 'unbounded']);
    set.recordSuccess(set.get('roomy')!, GB);
    expect(names(set.candidates(100))).toEqual(['unbounded']);
  });

  it('skips disabled and excluded locations', () => {
    const set = new LocationSet([loc('a', 10, 'r', { enabled: false }), loc('b', 20, 'r'), loc('c', 30, 'r')]);
    expect(names(set.candidates(1))).toEqual(['b', 'c']);
    expect(names(set.candidates(1, new Set(['b'])))).toEqual(['c']);
  });

  it('spreads replicas across regions before reusing one', () => {
    const set = new LocationSet([loc('eu-1', 10, 'eu'), loc('eu-2', 11, 'eu'), loc('us-1', 20, 'us'), loc('ap-1', 30, 'ap')]);
    // Each pick prefers a region not used yet: eu, then us, then ap; eu-2 (same region as eu-1) comes last.
    expect(names(set.candidates(1))).toEqual(['eu-1', 'us-1', 'ap-1', 'eu-2']);
  });

  it('marks a location failing 3 times in a row unhealthy, puts it last, and lets it recover by itself', () => {
    let now = 1_000_000;
    const a = loc('a', 10, 'r1');
    const set = new LocationSet([a, loc('b', 20, 'r2'), loc('c', 30, 'r3')], () => now);
    set.recordFailure(a, new Error('boom 1'));
    set.recordFailure(a, new Error('boom 2'));
    expect(set.healthy(a)).toBe(true);
    expect(names(set.candidates(1))[0]).toBe('a');
    set.recordFailure(a, new Error('boom 3'));
    expect(set.healthy(a)).toBe(false);
    expect(a.lastError).toBe('boom 3');
    expect(a.errors).toBe(3);
    expect(names(set.candidates(1))).toEqual(['b', 'c', 'a']);

    now += 59_999;
    expect(set.healthy(a)).toBe(false);
    now += 1;
    // After 60 s it is tried again, first by priority; one success clears the failure streak.
    expect(set.healthy(a)).toBe(true);
    expect(names(set.candidates(1))).toEqual(['a', 'b', 'c']);
    set.recordSuccess(a);
    expect(a.failures).toBe(0);
    set.recordFailure(a, new Error('once'));
    expect(set.healthy(a)).toBe(true);
  });

  it('a success between failures resets the streak', () => {
    const a = loc('a', 10, 'r');
    const set = new LocationSet([a], () => 0);
    set.recordFailure(a, 'x');
    set.recordFailure(a, 'y');
    set.recordSuccess(a);
    set.recordFailure(a, 'z');
    expect(set.healthy(a)).toBe(true);
    expect(a.ops).toBe(4);
    expect(a.errors).toBe(3);
  });
});
