/** The file-list cache's bounds (bytes and lists, least recently used out), versions, and its pages. */
import { describe, expect, it } from 'vitest';
import { FILE_LIST_CACHE_BYTES, FileList, FileListCache } from '../../server/engine/restore/file-list-cache';

function listOf(n: number, name = (i: number) => `dir-${Math.floor(i / 100)}/file-${i}.bin`): FileList {
  const l = new FileList();
  for (let i = 0; i < n; i++) l.add({ p: name(i), t: i % 100 === 0 ? 'd' : 'f', s: i, mt: Date.UTC(2026, 0, 1) + i * 1000, m: 0o644 });
  return l;
}

describe('FileList', () => {
  it('pages every file, or those whose path holds the filter (any case), with the total that match', () => {
    const l = listOf(250, (i) => (i % 10 === 0 ? `Docs/Ü-Report-${i}.PDF` : `src/file-${i}.ts`));
    const last = l.page(undefined, 245, 50);
    expect(last.total).toBe(250);
    expect(last.entries.map((e) => e.path)).toEqual([245, 246, 247, 248, 249].map((i) => `src/file-${i}.ts`));
    const reports = l.page('docs/ü-report', 2, 3);
    expect(reports.total).toBe(25);
    expect(reports.entries).toEqual([20, 30, 40].map((i) => ({ path: `Docs/Ü-Report-${i}.PDF`, type: i % 100 === 0 ? 'dir' : 'file', size: i, mtime: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(), mode: 0o644 })));
    expect(l.page('no such thing', 0, 10)).toEqual({ entries: [], total: 0 });
  });

  it('keeps a 200,000-file backup well inside the default budget', () => {
    const l = listOf(200_000, (i) => `home/user/projects/plexichat/src/components/area-${i % 50}/sub/file-number-${i}.tsx`);
    expect(l.length).toBe(200_000);
    expect(l.bytes).toBeGreaterThan(200_000 * 80);
    expect(l.bytes).toBeLessThan(FILE_LIST_CACHE_BYTES);
  });
});

describe('FileListCache', () => {
  it('drops the least recently used lists to stay within its bytes', () => {
    const one = listOf(1000).bytes;
    const cache = new FileListCache(Math.floor(one * 2.5), 10);
    cache.set('a', 'v1', listOf(1000));
    cache.set('b', 'v1', listOf(1000));
    expect(cache.get('a', 'v1')).toBeDefined(); // a is now the most recently used
    cache.set('c', 'v1', listOf(1000));
    expect([cache.has('a'), cache.has('b'), cache.has('c')]).toEqual([true, false, true]);
    expect(cache.bytes).toBeLessThanOrEqual(cache.maxBytes);
    expect(cache.bytes).toBe(2 * one);
  });

  it('holds at most its number of lists', () => {
    const cache = new FileListCache(FILE_LIST_CACHE_BYTES, 2);
    for (const id of ['a', 'b', 'c']) cache.set(id, 'v', listOf(10));
    expect([cache.has('a'), cache.has('b'), cache.has('c')]).toEqual([false, true, true]);
  });

  it('never holds a list larger than the whole budget', () => {
    const cache = new FileListCache(listOf(1000).bytes - 1, 10);
    cache.set('big', 'v', listOf(1000));
    expect(cache.has('big')).toBe(false);
    expect(cache.bytes).toBe(0);
  });

  it('misses, and forgets, a list of another manifest version; drop forgets a backup', () => {
    const cache = new FileListCache();
    cache.set('a', 'v1', listOf(10));
    expect(cache.get('a', 'v2')).toBeUndefined();
    expect(cache.has('a')).toBe(false);
    expect(cache.bytes).toBe(0);
    cache.set('a', 'v2', listOf(10));
    cache.drop('a');
    expect(cache.has('a')).toBe(false);
    expect(cache.bytes).toBe(0);
  });
});
