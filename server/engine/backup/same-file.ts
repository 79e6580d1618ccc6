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
 * How close to its backup's start a file's last change must be to make its entry "racily clean" (git's word):
 * a file changed again after the backup read it, within the same timestamp tick, keeps its size, mtime and
 * ctime, and the rule above would call it unchanged for ever. Timestamps advance in ticks of a few ms (ext4,
 * xfs) up to 1–2 s (ext3, HFS+, FAT); the backup read every file after it started, so an entry whose ctime
 * (mtime when ctime was not recorded) is older than the start minus the widest tick cannot be racy.
 */
export const RACY_MARGIN_MS = 2_000;

/** The instant (ns since the epoch) from which a base backup's entries are racily clean: its start − RACY_MARGIN_MS. */
export function racyFrom(baseStarted: Date): bigint {
  return BigInt(baseStarted.getTime() - RACY_MARGIN_MS) * 1_000_000n;
}

/**
 * True when an entry's last change is too close to (or after: clock skew, a network filesystem's clock) its
 * backup's start to trust the rule: the file is read again, which costs one read.
 */
export function racilyClean(b: ManifestEntry, from: bigint): boolean {
  const changed = b.ct !== undefined ? joinNs(b.ct, b.ctn) : joinNs(b.mt, b.mtn);
  return changed >= from;
}

/**
 * The change rule's time test. A manifest with the ns field compares the exact nanosecond; an older one
 * kept a rounded millisecond, compared the way it was made (a mismatch only costs one re-read).
 */
function sameTime(ns: bigint, ms: number, sub: number | undefined): boolean {
  if (sub !== undefined) return joinNs(ms, sub) === ns;
  return ms === Number((ns + 500_000n) / 1_000_000n); // Math.round of the ms, without a double's loss
}
