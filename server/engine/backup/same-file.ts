/**
 * The incremental change rule (restic's fileChanged): a regular file whose size, mtime, inode and mode — and
 * ctime, when the base recorded it — equal its base backup entry's is not read again; its extents point at the
 * base's shards. Pure: a source item and a manifest entry in, a yes or no out.
 */
import { joinNs, type ManifestEntry } from '../repository/manifest';
import type { SourceItem } from './source';

/** The incremental change rule: size, mtime, inode and mode (and ctime when recorded) equal. */
export function sameFile(it: SourceItem, b: ManifestEntry): boolean {
  if (it.type !== 'f' || b.t !== 'f') return false;
  return b.s === it.size && sameTime(it.mtimeNs, b.mt, b.mtn) && b.i === it.ino && b.m === it.mode && (b.ct === undefined || sameTime(it.ctimeNs, b.ct, b.ctn));
}

/**
 * The change rule's time test. A manifest with the ns field compares the exact nanosecond; an older one
 * kept a rounded millisecond, compared the way it was made (a mismatch only costs one re-read).
 */
function sameTime(ns: bigint, ms: number, sub: number | undefined): boolean {
  if (sub !== undefined) return joinNs(ms, sub) === ns;
  return ms === Number((ns + 500_000n) / 1_000_000n); // Math.round of the ms, without a double's loss
}
