/** Report lines for objects a delete, prune or storage gc kept because a store lock still holds them. */
import type { KeptLocked, ReleasedReport } from '../engine/storage/object-locks';

/** "kept: locked until …" for a report line. */
export function keptLine(k: KeptLocked): string {
  return `${k.location}: ${k.key} kept: ${k.locked_until ? `locked until ${k.locked_until}` : 'append-only location (deleted by an admin storage gc --append-only-delete)'}`;
}

/** "kept: locked until …" for each object a delete left to its lock (at most 20 lines, then a count). */
export function lockedLines(kept: KeptLocked[]): string[] {
  const lines = kept.slice(0, 20).map(keptLine);
  if (kept.length > 20) lines.push(`… and ${kept.length - 20} more object(s) kept: locked`);
  return lines;
}

export function releasedLines(r: ReleasedReport, dryRun: boolean): string[] {
  if (!r.deleted && !r.kept) return [];
  return [`objects kept earlier because they were locked: ${dryRun ? 'would delete' : 'deleted'} ${r.deleted} whose lock is over; ${r.kept} still locked`, ...lockedLines(r.kept_objects)];
}

