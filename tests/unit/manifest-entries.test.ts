/**
 * Manifest entries: the nanosecond time fields and their conversion for utimes (1 µs before a second
 * must stay in its second), field validation, and old manifests still readable.
 */
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkPayloadName, joinNs, type ManifestEntry, manifestLine, parseEntry, splitNs } from '../../server/engine/repository/manifest';
import { fsTime } from '../../server/engine/restore/restore-writer';

const line = (e: Record<string, unknown>) => JSON.stringify({ p: 'a.txt', t: 'f', m: 0o644, mt: 0, ...e });

describe('manifest times', () => {
  it('splits and joins nanoseconds exactly, negative ones included', () => {
    for (const ns of [0n, 1n, 999_999n, 1_000_000n, 1_700_000_300_999_600_000n, 1_700_000_300_999_999_999n, -1n, -1_000_001n]) {
      const [ms, sub] = splitNs(ns);
      expect(sub).toBeGreaterThanOrEqual(0);
      expect(sub).toBeLessThan(1_000_000);
      expect(joinNs(ms, sub)).toBe(ns);
    }
    expect(joinNs(1_700_000_301_000)).toBe(1_700_000_301_000_000_000n); // an old manifest's ms
  });

  it('utimes gets the stored microsecond exactly, never rounded into the next second', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'pxtime-'));
    try {
      const f = path.join(dir, 'f');
      await writeFile(f, '');
      const cases: bigint[] = [];
      for (let s = 0; s < 400; s++) {
        const sec = BigInt(1_000_000_000 + s * 3_000_017);
        cases.push(sec * 1_000_000_000n + 999_999_000n, sec * 1_000_000_000n + 999_999_999n, sec * 1_000_000_000n + 999_600_000n, sec * 1_000_000_000n + 1_000n, sec * 1_000_000_000n);
      }
      cases.push(4_294_967_295_999_999_000n); // the end of the range a double keeps to the µs
      for (const ns of cases) {
        const [ms, sub] = splitNs(ns);
        await utimes(f, fsTime(ms, sub), fsTime(ms, sub));
        const got = (await stat(f, { bigint: true })).mtimeNs;
        expect(got, `stored ${ns}`).toBe((ns / 1000n) * 1000n);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('parseEntry validation', () => {
  it('accepts a full new entry and an old one unchanged', () => {
    const full = { p: 'd/f', t: 'f', m: 0o4755, mt: 1, mtn: 5, at: 2, atn: 6, s: 3, x: [[0, 0, 3]], i: 7, ct: 3, ctn: 7, u: 1000, g: 100, h: 'd/g', xa: { 'user.k': 'AAE=' } };
    expect(parseEntry(JSON.stringify(full))).toEqual(full);
    const old = { p: 'old', t: 'f', m: 420, mt: 1_700_000_301_000, s: 2, x: [[3, 100, 2]], i: 9, ct: 1_700_000_301_000 };
    expect(parseEntry(JSON.stringify(old))).toEqual(old);
    expect(parseEntry(JSON.stringify({ p: 'l', t: 'l', m: 511, mt: 0, l: 'target' })).l).toBe('target');
  });

  it.each([
    ['not JSON', '{"p":'],
    ['an array', '[1,2]'],
    ['null', 'null'],
    ['a mode above 07777', line({ m: 0o10000 })],
    ['a fractional mtime', line({ mt: 1.5 })],
    ['a sub-ms part of a million', line({ mtn: 1_000_000 })],
    ['a negative size', line({ s: -1 })],
    ['extents not adding up to the size', line({ s: 4, x: [[0, 0, 3]] })],
    ['a zero-length extent', line({ s: 0, x: [[0, 0, 0]] })],
    ['a negative chunk index', line({ s: 1, x: [[-1, 0, 1]] })],
    ['a size without extents', line({ s: 10 })],
    ['a string where a number goes', line({ i: '7' })],
    ['a uid above 2^32', line({ u: 2 ** 32 })],
    ['a link target with NUL', JSON.stringify({ p: 'l', t: 'l', m: 511, mt: 0, l: 'a\0b' })],
    ['a link without a target', JSON.stringify({ p: 'l', t: 'l', m: 511, mt: 0 })],
    ['a target on a file', line({ l: 'x' })],
    ['content on a directory', JSON.stringify({ p: 'd', t: 'd', m: 493, mt: 0, s: 1, x: [[0, 0, 1]] })],
    ['a hard link escaping', line({ h: '../x' })],
    ['xattrs that are not base64', line({ xa: { 'user.a': '!!' } })],
    ['an xattr value over 64 KiB', line({ xa: { 'user.a': 'A'.repeat(100_000) } })],
    ['too many xattrs', line({ xa: Object.fromEntries(Array.from({ length: 129 }, (_, i) => [`user.${i}`, 'AA=='])) })],
    // An incremental copies a reused file's hash from its base's line into its own: a malformed one never gets that far.
    ['a content hash in capitals', line({ sha: 'AB'.repeat(32) })],
    ['a content hash one digit short', line({ sha: 'a'.repeat(63) })],
    ['a content hash that is not hex', line({ sha: 'g'.repeat(64) })],
    ['a content hash that is a number', line({ sha: 1 })],
  ])('refuses %s with an INTEGRITY error', (_what, text) => {
    expect(() => parseEntry(text)).toThrow(expect.objectContaining({ code: 'INTEGRITY' }));
  });

  it('ignores unknown fields, __proto__ included', () => {
    const e = parseEntry('{"p":"a","t":"d","m":493,"mt":0,"__proto__":{"x":1},"later":1}') as unknown as Record<string, unknown>;
    expect(Object.keys(e).sort()).toEqual(['m', 'mt', 'p', 't']);
    expect(e.x).toBeUndefined();
  });
});

describe('payload names', () => {
  it.each(['../x', '/x', 'a/../b', '', 'a\\b', 'C:/x'])('refuses %j with INVALID', (name) => {
    expect(() => checkPayloadName(name)).toThrow(expect.objectContaining({ code: 'INVALID' }));
  });
  it('accepts relative names', () => expect(checkPayloadName('exports/chat.json')).toBe('exports/chat.json'));
});

describe('manifest lines', () => {
  const full: ManifestEntry = {
    p: 'docs/ä b.txt',
    t: 'f',
    m: 0o644,
    mt: 1_700_000_000_123,
    mtn: 456_789,
    at: 1_700_000_001_000,
    atn: 5,
    u: 1000,
    g: 100,
    s: 42,
    i: 123_456,
    ct: 1_700_000_002_000,
    ctn: 7,
    xa: { 'user.tag': Buffer.from('v').toString('base64') },
    x: [[3, 0, 42]],
    sha: 'ab'.repeat(32),
    en: 512,
  };

  it('are the same whatever order the fields were set in, and read back as the entry', () => {
    // A full backup sets a small file's hash before its extents, a large file's after; a reused file gets
    // them from its base: the line must not depend on it, or an unchanged incremental's manifest is new.
    const reversed = Object.fromEntries(Object.entries(full).reverse()) as unknown as ManifestEntry;
    expect(Object.keys(reversed)[0]).toBe('en');
    expect(manifestLine(reversed)).toBe(manifestLine(full));
    expect(parseEntry(manifestLine(full))).toEqual(full);
    const link: ManifestEntry = { p: 'l', t: 'l', m: 0o777, mt: 1, mtn: 0, l: '../target' };
    expect(manifestLine({ l: '../target', mtn: 0, mt: 1, m: 0o777, t: 'l', p: 'l' })).toBe(manifestLine(link));
    expect(JSON.parse(manifestLine(link))).toEqual(link); // fields left undefined are left out
  });
});
