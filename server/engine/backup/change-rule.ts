/**
 * Does a backup's change look like mass encryption? Pure: a change summary (change-summary.ts) and the
 * source's history in, a verdict with its reasons out. Ordinary edits, growing logs and compressed media
 * replaced by other compressed media do not count as entropy jumps (their previous sample was already
 * high, or the new one is not), so only a large share of files turning random, or being renamed to one new
 * extension, is suspicious.
 */
import type { ChangeSummary } from './change-summary';

export const CHANGE_RULE = {
  /** Share of the previous version's files rewritten with entropy jumping above 7.5 bits/byte. */
  entropyShare: 0.3,
  /** Share of the previous version's files renamed to one new extension. */
  renamedShare: 0.3,
  /** A smaller entropy share is suspicious when the backup changed this many times more files than usual. */
  unusualEntropyShare: 0.1,
  unusualFactor: 5,
  /** Too few files to judge a share (one edit of a 3-file source is 33 %). */
  minFiles: 10,
};

export interface ChangeHistory {
  /** Earlier completed backups of the same sources that were compared. */
  backups: number;
  /** Median share of files new or changed per backup, and of bytes. */
  median_changed_share: number;
  median_changed_bytes_share: number;
}

export interface ChangeVerdict {
  suspicious: boolean;
  reasons: string[];
  changed_share: number;
  changed_bytes_share: number;
  entropy_share: number;
  renamed_share: number;
}

const pct = (x: number) => `${Math.round(x * 1000) / 10} %`;

export function changedShare(s: ChangeSummary): { files: number; bytes: number } {
  return {
    files: s.previous_files ? (s.new_files + s.changed_files) / s.previous_files : 0,
    bytes: s.previous_bytes ? s.changed_bytes / s.previous_bytes : 0,
  };
}

export function assessChange(s: ChangeSummary, history: ChangeHistory | null): ChangeVerdict {
  const share = changedShare(s);
  const base = Math.max(s.previous_files, 1);
  const entropyShare = s.entropy_jumps / base;
  const renamedShare = (s.top_new_extension?.files ?? 0) / base;
  const reasons: string[] = [];
  if (s.previous_files >= CHANGE_RULE.minFiles) {
    if (entropyShare > CHANGE_RULE.entropyShare) {
      reasons.push(`${s.entropy_jumps} of ${s.previous_files} files (${pct(entropyShare)}) were rewritten with content that became random (entropy above 7.5 bits/byte, below 6 before)`);
    }
    if (renamedShare > CHANGE_RULE.renamedShare) {
      reasons.push(`${s.top_new_extension!.files} of ${s.previous_files} files (${pct(renamedShare)}) were renamed to the extension ${s.top_new_extension!.ext}`);
    }
    const usual = history && history.backups >= 3 ? history.median_changed_share : null;
    if (!reasons.length && usual !== null && entropyShare > CHANGE_RULE.unusualEntropyShare && share.files > Math.max(usual, 0.01) * CHANGE_RULE.unusualFactor) {
      reasons.push(`${s.entropy_jumps} files (${pct(entropyShare)}) became random while ${pct(share.files)} of the files changed, against a usual ${pct(usual)}`);
    }
  }
  return { suspicious: reasons.length > 0, reasons, changed_share: share.files, changed_bytes_share: share.bytes, entropy_share: entropyShare, renamed_share: renamedShare };
}

/** The median of earlier backups' change shares (newest first or any order). */
export function changeHistory(earlier: ChangeSummary[]): ChangeHistory | null {
  if (!earlier.length) return null;
  const median = (xs: number[]) => {
    const v = [...xs].sort((a, b) => a - b);
    const m = Math.floor(v.length / 2);
    return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
  };
  const shares = earlier.map(changedShare);
  return { backups: earlier.length, median_changed_share: median(shares.map((x) => x.files)), median_changed_bytes_share: median(shares.map((x) => x.bytes)) };
}
