/**
 * Ransomware signals, gathered while a backup reads its files: each file is compared with its previous
 * version (the base backup's entry, or for a full backup the last completed backup of the same sources),
 * and at the end the backup's change is summed up — new, changed, removed and renamed files, changed bytes,
 * files whose content became random (entropy sample rising to HIGH from below LOW) and extensions files were
 * renamed to. change-rule.ts decides from the summary whether it looks like mass encryption.
 */
import path from 'node:path';
import type { ManifestEntry } from '../repository/manifest';

/** Entropy samples are kept in hundredths of a bit per byte (manifest field `en`). */
export const HIGH_ENTROPY = 750;
export const LOW_ENTROPY = 600;
const EXAMPLES = 5;

export interface ChangeSummary {
  /** Files in the previous version the backup was compared with. */
  previous_backup_id: string;
  previous_files: number;
  previous_bytes: number;
  files: number;
  bytes: number;
  new_files: number;
  changed_files: number;
  removed_files: number;
  /** New paths that are a removed path with an extension appended or replaced (a.txt → a.txt.locked / a.locked). */
  renamed_files: number;
  /** Bytes of new and changed files. */
  changed_bytes: number;
  /** Changed or renamed files whose sample rose to ≥ 7.5 bits/byte from < 6 in the previous version. */
  entropy_jumps: number;
  /** Files renamed to the most common new extension, and that extension. */
  top_new_extension: { ext: string; files: number } | null;
  /** Up to five files of the strongest signal (entropy jumps first, then renamed files). */
  examples: string[];
}

interface Read {
  path: string;
  size: number;
  en: number | undefined;
  /** The previous version at the same path, when there is one. */
  before: Previous | undefined;
}

/** What the summary keeps of a previous file: its path and entropy sample. */
interface Previous {
  p: string;
  en: number | undefined;
}

/**
 * Fed by the backup as it goes: each file of this backup (file()), and each regular file of the previous
 * backup as the base join (base-join.ts) reads past it (previous()). Holds the files read and the previous
 * files gone, not every file of either backup.
 */
export class ChangeTracker {
  private readonly read: Read[] = [];
  private readonly removed = new Map<string, Previous>();
  private readonly byStem = new Map<string, Previous>();
  private files = 0;
  private bytes = 0;
  private previousFiles = 0;
  private previousBytes = 0;

  constructor(private readonly previousId: string) {}

  /** A regular file of the previous backup; `matched`: this backup has a regular file at its path. */
  previous(e: ManifestEntry, matched: boolean): void {
    this.previousFiles++;
    this.previousBytes += e.s ?? 0;
    if (matched) return;
    const prev = { p: e.p, en: e.en };
    this.removed.set(e.p, prev);
    this.byStem.set(stripExt(e.p), prev);
  }

  /**
   * A file of this backup; `same`: unchanged against its previous version (the incremental change rule);
   * `before`: that previous version, when the previous backup has a regular file at this path.
   */
  file(entry: ManifestEntry, same: boolean, before?: ManifestEntry): void {
    this.files++;
    this.bytes += entry.s ?? 0;
    if (!same) this.read.push({ path: entry.p, size: entry.s ?? 0, en: entry.en, before: before && { p: before.p, en: before.en } });
  }

  /** Call once every previous file has been passed (BaseJoin.finish). */
  summary(): ChangeSummary {
    const { removed, byStem } = this;
    let newFiles = 0;
    let changed = 0;
    let renamed = 0;
    let changedBytes = 0;
    const jumps: string[] = [];
    const renamedPaths: string[] = [];
    const exts = new Map<string, string[]>();
    for (const r of this.read) {
      changedBytes += r.size;
      let before = r.before;
      if (before) changed++;
      else {
        newFiles++;
        before = removed.get(stripExt(r.path)) ?? byStem.get(stripExt(r.path));
        if (before) {
          renamed++;
          renamedPaths.push(r.path);
          const ext = path.posix.extname(r.path).toLowerCase();
          if (ext !== path.posix.extname(before.p).toLowerCase()) exts.set(ext, [...(exts.get(ext) ?? []), r.path]);
        }
      }
      if (before && r.en !== undefined && before.en !== undefined && r.en >= HIGH_ENTROPY && before.en < LOW_ENTROPY) jumps.push(r.path);
    }
    let top: { ext: string; files: string[] } | null = null;
    for (const [ext, files] of exts) if (!top || files.length > top.files.length) top = { ext, files };
    const examples = [...new Set([...jumps.slice(0, EXAMPLES), ...(top?.files ?? renamedPaths).slice(0, EXAMPLES)])].slice(0, EXAMPLES);
    return {
      previous_backup_id: this.previousId,
      previous_files: this.previousFiles,
      previous_bytes: this.previousBytes,
      files: this.files,
      bytes: this.bytes,
      new_files: newFiles,
      changed_files: changed,
      removed_files: removed.size,
      renamed_files: renamed,
      changed_bytes: changedBytes,
      entropy_jumps: jumps.length,
      top_new_extension: top ? { ext: top.ext || '(none)', files: top.files.length } : null,
      examples,
    };
  }
}

/** a/b.txt.locked → a/b.txt; a/b.txt → a/b (a path with its extension replaced has the same stem). */
function stripExt(p: string): string {
  const ext = path.posix.extname(p);
  return ext ? p.slice(0, -ext.length) : p;
}
