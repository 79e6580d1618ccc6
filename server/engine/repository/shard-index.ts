/**
 * What the backup write path and the restore read path need from the catalog about shards, behind one
 * interface: look up content ids, record new shards with their replicas, reference existing shards from a
 * backup, list a shard's replicas, mark a replica. `PgShardIndex` (pg-shard-index.ts) is the catalog's;
 * `MemoryShardIndex` (memory-shard-index.ts) keeps maps, for unit tests of the operations without a database.
 *
 * Both honour the write-ordering invariants: `record` is called only with a shard whose replicas are all
 * stored (so a record always means "complete data"), and a session's `flush()` is awaited before its backup is
 * marked completed (look-ups, references and records are batched: one statement per batch in the catalog).
 */
import type { Db } from '../../../db/client';
import type { ShardRecord } from '../catalog/catalog';
import type { CheckedShard } from './content-check';

export type { ShardRecord } from '../catalog/catalog';

/** A shard a backup wrote or found: its id, sizes, and whether this backup stored it. */
export interface StoredShard {
  id: string;
  plainSize: number;
  storedSize: number;
  isNew: boolean;
}

/** A new shard, all of whose replicas (or pieces) are stored. */
export interface ShardRecordInput {
  id: string;
  contentId: string;
  securityLevel: string;
  keyId: string;
  plainSize: number;
  storedSize: number;
  checksum: string;
  compression: string;
  kind: string;
  /** The object is encrypted (its cipher is not `none`). */
  encrypted: boolean;
  locations: string[];
  /** Erasure-coded: the coding, and which piece each of `locations` holds (same order). */
  coding?: { k: number; m: number; pieces: number[] };
}

export type ReplicaState = 'ok' | 'bad' | 'missing';

/** What a shard's record says of its stored object (a lost shard re-created from another object takes these). */
export interface ObjectMeta {
  checksum: string;
  keyId: string;
  compression: string;
  storedSize: number;
  encrypted: boolean;
}

/** A shard a catalog rebuild read back from storage (maintenance/rebuild-import.ts), with its copies as found. */
export interface ImportedShard {
  id: string;
  contentId: string;
  /** Empty, and `checksum` UNVERIFIED (content-check.ts), for a data shard imported from a listing unchecked. */
  keyId: string;
  plainSize: number;
  storedSize: number;
  checksum: string;
  compression: string;
  kind: string;
  coding: { k: number; m: number } | null;
  replicas: { location: string; state: 'ok' | 'bad'; piece: number | null }[];
}

/** A copy of a shard a storage listing found: where, and which piece (null: a whole copy). */
export interface ListedCopy {
  shardId: string;
  location: string;
  piece: number | null;
}

/** A catalog transaction (ctx.db.transaction's): writes given one commit or roll back with the rest of it. */
export type CatalogTx = Parameters<Parameters<Db['transaction']>[0]>[0];

/** The shard work of one running backup; every call may wait for its batch. */
export interface ShardIndexSession {
  /**
   * A complete shard with this content at the session's level (the oldest; none imported unchecked, none with
   * no good replica, none unencrypted for an encrypting backup), now referenced by the backup; null if none.
   */
  lookup(contentId: string): Promise<StoredShard | null>;
  /**
   * References a shard by id (incremental backups reuse a base backup's shards); null if gone, imported from
   * storage and not yet checked, or unencrypted while the backup encrypts.
   */
  reference(shardId: string): Promise<StoredShard | null>;
  /** Records a shard whose replicas are all stored, with the backup's reference to it. */
  record(row: ShardRecordInput): Promise<void>;
  /** Sends everything queued; awaited before the backup is marked completed. */
  flush(): Promise<void>;
}

/** Unreferenced shards (no backup references them) as storage gc counts them: rows, replica objects, bytes. */
export interface ShardTally {
  shards: number;
  objects: number;
  bytes: number;
}

/**
 * Which unreferenced shards, by their gc mark (`gc_marked_at`): those marked at or before `markedBy` (with
 * `orUnmarked`, the unmarked ones too; without `markedBy`, all), minus those marked at or before `except`.
 */
export interface UnreferencedScope {
  markedBy?: Date;
  orUnmarked?: boolean;
  except?: Date | null;
}

/** A shard whose record storage gc deleted: where its objects were. */
export interface GoneShard {
  id: string;
  storedSize: number;
  locations: string[];
  /** The piece each of `locations` held (erasure-coded shards), null for a whole copy. */
  pieces: (number | null)[];
  coding: { k: number; m: number } | null;
}

/**
 * The gc mark of unreferenced shards (maintenance/gc-shards.ts). A session's lookup or reference of a shard
 * clears its mark in the same step that adds the reference; `deleteUnreferenced` locks the rows first and
 * checks marks and references after, so a reuse and a delete never cross.
 */
export interface UnreferencedShards {
  /** Marks every unreferenced, unmarked shard with `at`. */
  markUnreferenced(at: Date): Promise<void>;
  tallyUnreferenced(scope: UnreferencedScope): Promise<ShardTally>;
  /** Up to `limit` unreferenced shards marked at or before `markedBy`, by id, after the id `after`. */
  markedPage(markedBy: Date, after: string, limit: number): Promise<{ id: string; replicas: number; storedSize: number }[]>;
  /**
   * Deletes those of `ids` that no backup references (with `marked`: only those marked at or before it) with
   * their replicas, at once: the rows are locked first (`afterLock` runs while they are; tests), then checked.
   */
  deleteUnreferenced(ids: string[], marked: Date | null, afterLock?: (ids: string[]) => Promise<void>): Promise<GoneShard[]>;
}

export interface ShardIndex extends UnreferencedShards {
  /** A session for `backupId`; `encrypting`: the backup may reuse only encrypted shards. */
  session(backupId: string, level: string, encrypting: boolean): ShardIndexSession;
  /** The records of these shards, each with its replicas; unknown ids are absent. */
  records(ids: string[]): Promise<Map<string, ShardRecord>>;
  /** Every shard a backup references, with its replicas. */
  backupRecords(backupId: string): Promise<ShardRecord[]>;
  /** The ids of every shard a backup references, recorded or not (verify reports a reference to no record). */
  backupShardIds(backupId: string): Promise<string[]>;
  /**
   * An unverified shard (imported from storage, content-check.ts) whose content passed the full check: it gets
   * the checked checksum, size, key and compression (no-op unless the shard is still unverified).
   */
  recordChecked(shardId: string, checked: Pick<CheckedShard, 'checksum' | 'plainSize' | 'keyId' | 'compression'>): Promise<void>;
  /** Records what a read or check found of one replica (no-op for an unknown shard or location). */
  markReplica(shardId: string, location: string, state: ReplicaState, at: Date): Promise<void>;
  /**
   * Records a good copy (or, with `piece`, that piece) newly written at `location` — call only once the write
   * is stored. An existing row for the location becomes 'ok' (taking `piece` when given); `replaces`: a piece
   * that moved here, whose row at that location goes in the same transaction. Throws for an unknown shard.
   */
  addReplica(shardId: string, location: string, at: Date, opts?: { piece?: number; replaces?: string | null }): Promise<void>;
  /**
   * Drops the row of a copy (or piece) at `location` — call before its object is deleted, never after, so no
   * row ever names an object that is gone. No-op when there is none.
   */
  removeReplica(shardId: string, location: string): Promise<void>;
  /** Every shard id, in id order (storage optimize walks them all). */
  allShardIds(): Promise<string[]>;
  /** Up to `limit` shards with a row at `location`, largest stored size first (then by id), from `offset`. */
  largestAt(location: string, offset: number, limit: number): Promise<string[]>;
  /** The other shards with this content id (a lost shard's possible sources), each with its replicas, by id. */
  sameContent(contentId: string, exceptId: string): Promise<ShardRecord[]>;
  /** A lost shard re-created from another object under its own name: its record takes that object's meta. */
  replaceObject(shardId: string, meta: ObjectMeta): Promise<void>;
  /**
   * Imports shards read back from storage with `backupId`'s references to them, inside `tx` when given. A new
   * shard is inserted at `level`; a known one keeps its row, except that an unverified one takes a checked
   * shard's content fields. Replica rows are added where none is (an existing row is kept as it is). Like a
   * session's reference, referencing a shard clears its gc mark. Returns how many shards were new, and how
   * many of those unverified.
   */
  importShards(backupId: string, level: string, shards: ImportedShard[], tx?: CatalogTx): Promise<{ inserted: number; unverified: number }>;
  /**
   * Copies a storage listing found of shards the index already has (a location merged back in): each gets an
   * 'ok' row where its shard has none at that location; an existing row is kept, an unknown shard skipped.
   */
  addListedCopies(copies: ListedCopy[]): Promise<void>;
}
