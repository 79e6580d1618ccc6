/**
 * The chunker's hot loop runs as WebAssembly where it can; the JavaScript loop is the reference. Any
 * difference would move cut points, and stored shards dedup only against the same cuts.
 */
import { describe, expect, it } from 'vitest';
import { gearScan, gearScanEngine, scanJs, scannedHash } from '../../server/engine/backup/gear-scan';
import { Rng } from '../support/tree';

const MiB = 1024 * 1024;
const topMask = (bits: number) => ~((1 << (32 - bits)) - 1) | 0;

describe('gear scan', () => {
  const data = Buffer.concat([new Rng(11).bytes(6 * MiB), Buffer.alloc(MiB, 0), Buffer.alloc(MiB, 0xff)]);

  it('runs as WebAssembly on this runtime', () => {
    expect(gearScanEngine()).toBe('webassembly');
  });

  it('finds the cut the JavaScript loop finds, and leaves the same hash when there is none', () => {
    const rng = new Rng(5);
    const masks = [topMask(22), topMask(18), topMask(8), topMask(1), -1];
    let cuts = 0;
    let misses = 0;
    for (let k = 0; k < 2000; k++) {
      const start = rng.int(0, data.length - 1);
      // Ranges up to 3 MiB: several of the WebAssembly memory's 1 MiB windows.
      const end = Math.min(data.length, start + (k % 7 === 0 ? 0 : rng.int(1, 3 * MiB)));
      const mask = masks[k % masks.length]!;
      const hash = rng.int(0, 0xffffffff) | 0;
      const want = scanJs(data, start, end, hash, mask);
      const wantHash = scannedHash();
      const got = gearScan(data, start, end, hash, mask);
      expect(got, `range [${start}, ${end}) mask ${mask}`).toBe(want);
      if (got) cuts++;
      else {
        misses++;
        expect(scannedHash()).toBe(wantHash);
      }
    }
    // Both outcomes were exercised, many times.
    expect(cuts).toBeGreaterThan(200);
    expect(misses).toBeGreaterThan(200);
  });
});
