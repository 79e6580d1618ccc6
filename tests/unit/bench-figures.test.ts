import { describe, expect, it } from 'vitest';
import { parseOnly, parseTrees } from '../../bench/settings';
import { fmtNumber, fmtRatio, fmtSpread, ratioVsPlexichat, spreadOf } from '../../bench/stats';

describe('bench spread of runs', () => {
  it('gives the median, min and max of the numbers, ignoring missing runs', () => {
    expect(spreadOf([3, null, 1, 2, undefined])).toEqual({ median: 2, min: 1, max: 3, n: 3 });
    expect(spreadOf([4, 1, 3, 2])).toEqual({ median: 2.5, min: 1, max: 4, n: 4 });
    expect(spreadOf([null, undefined, Number.NaN])).toBeNull();
  });

  it('prints "median (min–max)", or the median alone for one run or identical runs', () => {
    expect(fmtSpread({ median: 11.3, min: 10.94, max: 12.04, n: 3 })).toBe('11.3 (10.9–12.0)');
    expect(fmtSpread({ median: 0.853, min: 0.853, max: 0.853, n: 1 })).toBe('0.85');
    expect(fmtSpread({ median: 405, min: 404.9, max: 405.2, n: 3 })).toBe('405');
    expect(fmtSpread(null)).toBe('—');
    expect(fmtNumber(12345.6)).toBe('12,346');
  });
});

describe('bench ratios against PlexiChat', () => {
  it('divides the other tool by PlexiChat for times, sizes and memory: ≥ 1 when PlexiChat is faster or smaller', () => {
    expect(ratioVsPlexichat(5, 10, 'lower')).toBe(2);
    expect(ratioVsPlexichat(11.3, 10.3, 'lower')).toBeCloseTo(0.9115, 4);
  });

  it('divides PlexiChat by the other tool for throughputs', () => {
    expect(ratioVsPlexichat(106, 190, 'higher')).toBeCloseTo(0.5579, 4);
    expect(ratioVsPlexichat(200, 100, 'higher')).toBe(2);
  });

  it('has no ratio when a figure is missing or the divisor is zero', () => {
    expect(ratioVsPlexichat(null, 3, 'lower')).toBeNull();
    expect(ratioVsPlexichat(3, undefined, 'higher')).toBeNull();
    expect(ratioVsPlexichat(0, 3, 'lower')).toBeNull();
    expect(fmtRatio(null)).toBe('—');
    expect(fmtRatio(0.004)).toBe('0.0040');
    expect(fmtRatio(1.005)).toBe('1.00');
  });
});

describe('BENCH_TREES', () => {
  it('splits on ":", resolves relative paths, drops empty parts and repeats', () => {
    expect(parseTrees('/usr/share/doc::rel/dir:/usr/share/doc/', '/work')).toEqual([
      { name: 'doc', dir: '/usr/share/doc' },
      { name: 'dir', dir: '/work/rel/dir' },
    ]);
    expect(parseTrees(undefined)).toEqual([]);
    expect(parseTrees(' : ')).toEqual([]);
  });

  it('makes names unique with the parent directory, then with a number', () => {
    expect(parseTrees('/a/lib:/b/lib:/c/b/lib', '/').map((t) => t.name)).toEqual(['lib', 'b-lib', 'lib-2']);
  });
});

describe('BENCH_ONLY', () => {
  it('runs every part by default and the named ones in their fixed order otherwise', () => {
    expect(parseOnly(undefined)).toEqual(['compare', 'list', 'rebuild', 'scale']);
    expect(parseOnly('rebuild, compare')).toEqual(['compare', 'rebuild']);
    expect(() => parseOnly('compare,lists')).toThrow(/BENCH_ONLY takes compare, list, rebuild, scale, erasure.*"lists"/);
    expect(parseOnly('erasure')).toEqual(['erasure']);
  });
});

describe('bench memory of a helper process', () => {
  it("counts a process's own pages: more than zero, less than its RSS (the node binary's pages are shared), none for a gone process", async () => {
    const { privateBytes, vmField } = await import('../../bench/procfs');
    const own = privateBytes(process.pid);
    const rss = vmField(process.pid, 'VmRSS');
    expect(own).toBeGreaterThan(1024 * 1024);
    expect(own).toBeLessThan(rss!);
    expect(privateBytes(2 ** 22 + 12345)).toBeNull();
  });
});
