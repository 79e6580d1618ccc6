/**
 * The incremental change rule (same-file.ts), as restic tests its fileChanged: an unchanged file is one whose
 * size, mtime, inode, mode and (when recorded) ctime all equal the base entry's; any one of them changing alone
 * makes it changed, and so does anything that is not a regular file on both sides.
 */
import { describe, expect, it } from 'vitest';
import { RACY_MARGIN_MS, racilyClean, racyFrom, sameFile } from '../../server/engine/backup/same-file';
import type { SourceItem } from '../../server/engine/backup/source';
import { type ManifestEntry, splitNs } from '../../server/engine/repository/manifest';

const MTIME = 1_767_225_600_123_456_789n; // 2026-01-01, with nanoseconds
const CTIME = 1_767_225_700_987_654_321n;

function item(over: Partial<SourceItem> = {}): SourceItem {
  return { rel: 'a/file.txt', abs: '/src/a/file.txt', type: 'f', mode: 0o644, mtimeNs: MTIME, ctimeNs: CTIME, atimeNs: MTIME, ino: 4242, uid: 1000, gid: 1000, size: 12_345, ...over };
}

/** The entry a backup of `it` records (what toEntry writes for a regular file). */
function entryOf(it: SourceItem): ManifestEntry {
  const [mt, mtn] = splitNs(it.mtimeNs);
  const [ct, ctn] = splitNs(it.ctimeNs);
  return { p: it.rel, t: it.type, m: it.mode, mt, mtn, u: it.uid, g: it.gid, s: it.size, i: it.ino, ct, ctn, x: [[0, 0, it.size]] };
}

describe('the incremental change rule', () => {
  it('a file with the same size, mtime, ctime, inode and mode is unchanged', () => {
    expect(sameFile(item(), entryOf(item()))).toBe(true);
  });

  it('owner, atime and the path on disk are not part of the rule', () => {
    expect(sameFile(item({ uid: 0, gid: 0, atimeNs: MTIME + 10_000_000_000n, abs: '/elsewhere/file.txt' }), entryOf(item()))).toBe(true);
  });

  it.each<[string, Partial<SourceItem>]>([
    ['size', { size: 12_346 }],
    ['mtime (one nanosecond, inside the same millisecond)', { mtimeNs: MTIME + 1n }],
    ['mtime (an earlier time: a file restored or touched back)', { mtimeNs: MTIME - 1_000_000_000n }],
    ['ctime (one nanosecond: chmod back and forth, an xattr set, a rename over it)', { ctimeNs: CTIME + 1n }],
    ['inode (replaced by another file with the same size and times)', { ino: 4243 }],
    ['mode', { mode: 0o600 }],
  ])('a change of %s alone makes the file changed', (_what, change) => {
    const base = entryOf(item());
    expect(sameFile(item(change), base)).toBe(false);
  });

  it('only regular files on both sides can be unchanged', () => {
    const base = entryOf(item());
    expect(sameFile(item({ type: 'l' }), base)).toBe(false);
    expect(sameFile(item({ type: 'd' }), base)).toBe(false);
    expect(sameFile(item(), { ...base, t: 'l', l: 'target' })).toBe(false);
    expect(sameFile(item(), { ...base, t: 'd' })).toBe(false);
  });

  it('a base entry with no size or no inode is never unchanged', () => {
    const { s: _s, ...noSize } = entryOf(item());
    const { i: _i, ...noIno } = entryOf(item());
    expect(sameFile(item(), noSize)).toBe(false);
    expect(sameFile(item(), noIno)).toBe(false);
  });

  describe('older manifests', () => {
    it('with no ctime recorded, the ctime is not compared (and everything else still is)', () => {
      const { ct: _ct, ctn: _ctn, ...base } = entryOf(item());
      expect(sameFile(item({ ctimeNs: CTIME + 5_000_000_000n }), base)).toBe(true);
      expect(sameFile(item({ ctimeNs: CTIME + 5_000_000_000n, size: 1 }), base)).toBe(false);
      expect(sameFile(item({ ctimeNs: CTIME + 5_000_000_000n, mtimeNs: MTIME + 1_000_000n }), base)).toBe(false);
    });

    it('with a millisecond mtime and no nanoseconds, the time is compared rounded to the millisecond', () => {
      // MTIME is …123.456789 ms: rounded, as such manifests stored it, 123.
      const [ms] = splitNs(MTIME);
      const base = { ...entryOf(item()), mt: ms, mtn: undefined };
      expect(sameFile(item(), base)).toBe(true);
      // A sub-millisecond move that keeps the rounded value cannot be seen in such a manifest…
      expect(sameFile(item({ mtimeNs: MTIME + 40_000n }), base)).toBe(true);
      // …but one that crosses the rounding boundary can, and so can any other millisecond.
      expect(sameFile(item({ mtimeNs: MTIME + 50_000n }), base)).toBe(false);
      expect(sameFile(item(), { ...base, mt: ms + 1 })).toBe(false);
    });

    it('a millisecond ctime with no nanoseconds is compared rounded the same way', () => {
      const [floor] = splitNs(CTIME); // …700.987654321 s: rounds up, so a floored value would not match
      const base = { ...entryOf(item()), ct: floor + 1, ctn: undefined };
      expect(sameFile(item(), base)).toBe(true);
      expect(sameFile(item({ ctimeNs: CTIME + 900_000n }), base)).toBe(false);
      expect(sameFile(item(), { ...base, ct: floor })).toBe(false);
    });
  });
});

describe('racily clean entries (changed too close to their backup to trust the rule)', () => {
  const at = (ns: bigint) => new Date(Number(ns / 1_000_000n));
  const base = entryOf(item()); // last changed at CTIME

  it('an entry changed within RACY_MARGIN_MS before its backup started, or after it, is read again', () => {
    expect(racilyClean(base, racyFrom(at(CTIME + BigInt(RACY_MARGIN_MS - 1) * 1_000_000n)))).toBe(true);
    expect(racilyClean(base, racyFrom(at(CTIME)))).toBe(true);
    // A ctime after the start: a clock ahead (a network filesystem), or a change while the backup read.
    expect(racilyClean(base, racyFrom(at(CTIME - 60_000_000_000n)))).toBe(true);
  });

  it('an entry changed longer than RACY_MARGIN_MS before its backup started is trusted', () => {
    expect(racilyClean(base, racyFrom(at(CTIME + BigInt(RACY_MARGIN_MS + 1) * 1_000_000n)))).toBe(false);
    expect(racilyClean(base, racyFrom(at(CTIME + 86_400_000_000_000n)))).toBe(false);
  });

  it('uses the ctime (a backdated mtime cannot hide a change), and the mtime only where no ctime was recorded', () => {
    const backdated: ManifestEntry = { ...base, mt: splitNs(MTIME - 86_400_000_000_000n)[0] };
    expect(racilyClean(backdated, racyFrom(at(CTIME + 1_000_000n)))).toBe(true);
    const { ct: _ct, ctn: _ctn, ...old } = base;
    expect(racilyClean(old, racyFrom(at(MTIME + 1_000_000n)))).toBe(true);
    expect(racilyClean(old, racyFrom(at(MTIME + 10_000_000_000n)))).toBe(false);
  });
});
