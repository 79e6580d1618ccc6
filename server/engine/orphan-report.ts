/** What a storage gc run reports (orphans.ts), per location and in total. */

export type ObjectKind = 'shard' | 'shard_copy' | 'snapshot' | 'key' | 'temp' | 'unknown';
export type KeepReason =
  | 'grace_period' // marked less than the grace period ago
  | 'backups_running' // a backup running at mark time has not ended
  | 'referenced_again' // the catalog records it now (a late record)
  | 'mark_pending' // newly found while an earlier mark waits: marked once that mark is done
  | 'mark_full' // too many candidates for one mark
  | 'delete_failed'
  | 'unrecognised_name'; // not a name this engine writes: never deleted

export interface Tally {
  objects: number;
  bytes: number;
}

export interface LocationGcReport {
  location: string;
  /** Why the location was not (fully) swept, or null. */
  skipped_reason: string | null;
  scanned: Tally;
  marked: Tally;
  deleted: Tally;
  kept: Tally & { reasons: Partial<Record<KeepReason, number>> };
  /** Marked objects that no longer existed. */
  gone: number;
  objects: { key: string; kind: ObjectKind; action: 'marked' | 'deleted' | 'kept'; reason?: KeepReason }[];
  objects_truncated: boolean;
}

export interface OrphanSweepReport {
  dry_run: boolean;
  grace_hours: number;
  /** The mark this sweep found, and whether its candidates could be deleted. */
  previous_mark: {
    marked_at: string;
    candidates: number;
    running_backups_at_mark: string[];
    state: 'ripe' | 'grace_period' | 'backups_running';
    ripe_at: string;
    waiting_for: string[];
  } | null;
  /** The mark this sweep wrote (in a dry run: would write). */
  new_mark: { marked_at: string; candidates: number; running_backups_at_mark: string[] } | null;
  locations: LocationGcReport[];
  totals: { marked: Tally; deleted: Tally; kept: Tally };
  problems: string[];
}

export interface SweepOptions {
  dryRun?: boolean;
  graceHours?: number;
}

export function add(t: Tally, bytes: number): void {
  t.objects++;
  t.bytes += bytes;
}

export function totalsOf(locations: LocationGcReport[]): OrphanSweepReport['totals'] {
  const sum = (pick: (l: LocationGcReport) => Tally): Tally =>
    locations.reduce((t, l) => ({ objects: t.objects + pick(l).objects, bytes: t.bytes + pick(l).bytes }), { objects: 0, bytes: 0 });
  return { marked: sum((l) => l.marked), deleted: sum((l) => l.deleted), kept: sum((l) => ({ objects: l.kept.objects, bytes: l.kept.bytes })) };
}
