/**
 * The base of an incremental as the change rule reads it: files by path, each with every field the change
 * rule, a reused file and the change summary read, as its manifest line gave them; directories and links left
 * out; a hostile line refused at load.
 */
import { describe, expect, it } from 'vitest';
import { BaseEntries } from '../../server/engine/backup/base-entries';
import type { ManifestEntry } from '../../server/engine/repository/manifest';

const KEPT = ['p', 't', 'm', 'mt', 'mtn', 's', 'i', 'ct', 'ctn', 'x', 'en', 'xa'] as const;
/** What a base keeps of an entry (BaseFile). */
const kept = (e: ManifestEntry) => Object.fromEntries(KEPT.filter((k) => e[k] !== undefined).map((k) => [k, e[k]]));

const file = (i: number, s = i * 3 + 1): ManifestEntry => ({
  p: `d${i % 7}/f${i}.txt`, t: 'f', m: 0o644, mt: 1_700_000_000_000 + i, s, sha: i.toString(16).padStart(64, '0'),
  // Older manifests lack the ns, inode and ctime fields; some files have several extents, xattrs, or no sample.
  ...(i % 5 ? { mtn: i % 1_000_000, i: 1000 + i, ct: 1_700_000_000_500 + i, ctn: 7 } : {}),
  x: i % 3 ? [[i, 0, s]] : [[i, 0, 1], [i + 1, 0, s - 1]].filter((x) => x[2]! > 0) as [number, number, number][],
  ...(i % 11 === 0 ? { xa: { 'user.tag': Buffer.from(`t${i}`).toString('base64') } } : {}),
  ...(i % 4 ? { en: i % 800 } : {}),
});

describe('base entries', () => {
  it('give back every file as its line had it, in any order and long after it was last asked for', () => {
    const all = Array.from({ length: 10_000 }, (_, i) => file(i));
    const b = new BaseEntries();
    for (const e of all) b.add(JSON.stringify(e));
    b.add(JSON.stringify({ p: 'd0', t: 'd', m: 0o755, mt: 0 }));
    b.add(JSON.stringify({ p: 'd0/link', t: 'l', m: 0o777, mt: 0, l: 'f0.txt' }));
    expect(b.size).toBe(10_000);
    expect(b.bytes).toBe(all.reduce((n, e) => n + e.s!, 0));
    expect(b.has('d0')).toBe(false);
    expect(b.get('d0/link')).toBeUndefined();
    // Forwards (each asked for twice, as the read-ahead and then the backup do), then backwards, past the parsed few.
    for (const e of all) {
      expect(b.get(e.p)).toStrictEqual(kept(e));
      expect(b.get(e.p)).toStrictEqual(kept(e));
    }
    for (const e of [...all].reverse()) expect(b.get(e.p)).toStrictEqual(kept(e));
    // Each call gives a new object: a caller that changes one changes nothing else.
    const one = b.get(all[11]!.p)!;
    one.x![0]![2] = 0;
    one.xa!['user.tag'] = '';
    expect(b.get(all[11]!.p)).toStrictEqual(kept(all[11]!));
    expect(b.get('d1/missing.txt')).toBeUndefined();
    expect([...b.files()].map((f) => [f.path, f.size])).toEqual(all.map((e) => [e.p, e.s]));
    expect([...b.files()].every((f) => b.slotOf(f.path) === f.slot)).toBe(true);
  });

  it('keep the later line of a path given twice, in the totals too', () => {
    const b = new BaseEntries();
    b.add(JSON.stringify(file(1)));
    expect(b.get(file(1).p)).toStrictEqual(kept(file(1)));
    b.add(JSON.stringify({ ...file(1, 100), mt: 5 }));
    expect(b.size).toBe(1);
    expect(b.bytes).toBe(100);
    expect(b.get(file(1).p)).toStrictEqual(kept({ ...file(1, 100), mt: 5 }));
    expect([...b.files()]).toEqual([{ path: file(1).p, slot: b.slotOf(file(1).p), size: 100 }]);
  });

  it('refuse a line with a hostile path when the base is loaded, not when a file is compared', () => {
    const b = new BaseEntries();
    expect(() => b.add(JSON.stringify({ ...file(1), p: '../../etc/passwd' }))).toThrow();
    expect(() => b.add('{"p":"a.txt","t":"f"')).toThrow();
    expect(b.size).toBe(0);
  });
});
