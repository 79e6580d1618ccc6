/** What a storage gc run reports (orphans.ts): orphan objects per location, unreferenced shard rows, totals. */
import type { KeptLocked, ReleasedReport } from '../storage/object-locks';

export type ObjectKind = 'shard' | 'shard_copy' | 'snapshot' | 'key' | 'temp' | 'unknown';
export type KeepReason =
  | 'grace_period' // marked less than the grace period ago
  | 'backups_running' // a backup running at mark time has not ended
  | 'referenced_again' // the catalog records it now (a late record)
  | 'mark_pending' // newly found while an earlier mark waits: marked once that mark is done
  | 'mark_full' // too many candidates for one mark
  | 'delete_failed'
  | 'locked' // under a store lock (immutability) or on an append-only location: deleted after the lock
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
  objects: { key: string; kind: ObjectKind; action: 'marked' | 'deleted' | 'kept'; reason?: KeepReason; locked_until?: string | null }[];
  objects_truncated: boolean;
}

/** Shard rows and the replica objects they record (bytes: what those objects hold on storage). */
export interface RowTally {
  shards: number;
  objects: number;
  bytes: number;
}

/** Shard rows no backup references (left by failed, reaped or deleted backups): see gc-shards.ts. */
export interface ShardGcReport {
  /** Unreferenced rows the new mark covers (a dry run: would cover): a run after the grace period deletes them. */
  marked: RowTally;
  /** Rows deleted; objects deleted and the bytes freed (a dry run: would delete, from the catalog's sizes). */
  deleted: RowTally;
  kept: RowTally & { reasons: Partial<Record<KeepReason, number>> };
  /** Objects of deleted rows whose delete failed: orphan objects now, removed by a later run. */
  objects_left: number;
  /** Objects of deleted rows kept because their store lock has not expired: deleted by a run after it. */
  objects_locked: KeptLocked[];
}

export interface OrphanSweepReport {
  dry_run: boolean;
  grace_hours: number;
  /** The mark this sweep found, and whether its candidates could be deleted. */
  previous_mark: {
    marked_at: string;
    candidates: number;
    /** Unreferenced shard rows the mark covered when it was made. */
    shards: number;
    running_backups_at_mark: string[];
    state: 'ripe' | 'grace_period' | 'backups_running';
    ripe_at: string;
    waiting_for: string[];
  } | null;
  /** The mark this sweep wrote (in a dry run: would write). */
  new_mark: { marked_at: string; candidates: number; shards: number; running_backups_at_mark: string[] } | null;
  /** Orphan objects, per location. */
  locations: LocationGcReport[];
  /** Unreferenced shard rows and their objects. */
  shards: ShardGcReport;
  /** Objects of both kinds: orphan objects and the objects of unreferenced shard rows. */
  totals: { marked: Tally; deleted: Tally; kept: Tally };
  /** Objects kept earlier because they were locked: deleted now that their lock is over, or still kept. */
  released: ReleasedReport;
  problems: string[];
}

export interface SweepOptions {
  dryRun?: boolean;
  graceHours?: number;
  /**
   * Also delete what was released on append-only locations (object-locks.ts). Only `storage gc
   * --append-only-delete` sets it, run by an admin with the credentials that may delete there.
   */
  appendOnlyDelete?: boolean;
  /** Tests only: see ShardGcHooks. */
  hooks?: ShardGcHooks;
}

export function add(t: Tally, bytes: number): void {
  t.objects++;
  t.bytes += bytes;
}

export function totalsOf(locations: LocationGcReport[], shards: ShardGcReport): OrphanSweepReport['totals'] {
  const sum = (pick: (l: LocationGcReport) => Tally, extra: RowTally): Tally =>
    locations.reduce((t, l) => ({ objects: t.objects + pick(l).objects, bytes: t.bytes + pick(l).bytes }), { objects: extra.objects, bytes: extra.bytes });
  return { marked: sum((l) => l.marked, shards.marked), deleted: sum((l) => l.deleted, shards.deleted), kept: sum((l) => ({ objects: l.kept.objects, bytes: l.kept.bytes }), shards.kept) };
}

/** Test seam: runs inside the delete's transaction, after the rows are locked and before the re-check. */
export interface ShardGcHooks {
  afterShardLock?: (ids: string[]) => Promise<void>;
}
