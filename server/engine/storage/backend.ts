import type { OutboundPolicyConfig } from '../../config';

/**
 * The storage interface every location implements (local disk, S3, Azure Blob, GCS, in-memory).
 * Deliberately tiny: behaviour such as retries, timeouts and fault injection is added by wrappers.
 *
 * Keys are relative, '/'-separated paths such as `data/ab/abcdef…` or `manifests/<backup id>`.
 * Objects are small (about one shard, ≤ a few tens of MiB), so whole-object Buffers are used.
 */
export interface ObjectInfo {
  key: string;
  size: number;
}

export interface StorageUsage {
  bytes: number;
  objects: number;
}

export interface StorageSpace {
  freeBytes: number;
  totalBytes: number;
}

/**
 * A write-once lock (S3 Object Lock, GCS object retention, Azure blob immutability policy): until `until`
 * the store refuses to delete or overwrite the object. governance: an account with the bypass permission
 * may still remove it (this product never does); compliance: nobody can, not even the account's root.
 */
export interface ObjectLock {
  mode: 'governance' | 'compliance';
  until: Date;
}

/**
 * Buffers a storage call may still read after it settled: a put that timed out is abandoned, not cancelled
 * (retrying.ts), and one that failed may have left a write behind it. Their memory must never be reused for
 * another object (shard-store.ts recycles a shard's stored copy once every put of it succeeded).
 */
const stillRead = new WeakSet<ArrayBufferLike>();

export function markStillRead(data: Uint8Array): void {
  stillRead.add(data.buffer);
}

export function isStillRead(data: Uint8Array): boolean {
  return stillRead.has(data.buffer);
}

export interface PutOptions {
  /** Write the object locked (only on a location with immutability configured; others refuse). */
  lock?: ObjectLock;
}

export interface StorageBackend {
  /** The location's configured name (unique). */
  readonly name: string;
  /** local | s3 | azure | gcs | memory */
  readonly type: string;
  /** Creates the bucket/container/directory if it is missing and the credentials allow it. */
  init(): Promise<void>;
  /**
   * Stores an object atomically: readers see either no object or the whole new object, never a torn one.
   * Idempotent: writing the same key twice with the same bytes succeeds.
   */
  put(key: string, data: Buffer, opts?: PutOptions): Promise<void>;
  /**
   * Reads a whole object. Throws StorageError with kind 'not_found' when it does not exist. `sizeHint`: the
   * size the caller expects (the catalog's), which a backend may use to read it in one go; the object is read
   * whole whatever its size.
   */
  get(key: string, sizeHint?: number): Promise<Buffer>;
  /** Size of an object, or null when it does not exist. */
  stat(key: string): Promise<ObjectInfo | null>;
  /** Every object whose key starts with `prefix`, in no particular order. */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /**
   * Removes an object; removing a missing object is not an error. An object still locked is not touched:
   * throws StorageError with kind 'locked' and its `lockedUntil`.
   */
  delete(key: string): Promise<void>;
  /** Where the store can lock objects: the lock an object carries now (null: none, or the object is missing). */
  lockOf?(key: string): Promise<ObjectLock | null>;
  /**
   * Append-only local locations: deletes what `delete` refuses. Only an admin's `storage gc
   * --append-only-delete` calls it, for objects the catalog released (object-locks.ts).
   */
  purge?(key: string): Promise<void>;
  /** Where the store can lock objects: lengthens an object's lock to `lock.until`; never shortens one. */
  extendLock?(key: string, lock: ObjectLock): Promise<void>;
  /** Bytes and objects held under this location. */
  usage(): Promise<StorageUsage>;
  /**
   * Free and total bytes where the store has a fixed size: the file system of a local location (statfs).
   * Absent for S3, Azure Blob and GCS: none of them reports a quota or free space through its API.
   */
  space?(): Promise<StorageSpace>;
  /** A cheap round trip proving the location answers (used by health checks). */
  ping(): Promise<void>;
  /** Releases sockets/handles. */
  close(): Promise<void>;
}

/**
 * not_found: the object does not exist. unavailable: transient (network, 5xx, timeout) — retrying may help.
 * permanent: retrying cannot help (auth, bad request). archived: the object sits in an archive tier and must
 * be rehydrated before it can be read. locked: the object is under a write-once lock (or the location is
 * append-only) and cannot be removed before `lockedUntil` (null: until an admin's storage gc removes it).
 */
export type StorageErrorKind = 'not_found' | 'unavailable' | 'permanent' | 'archived' | 'locked';

export class StorageError extends Error {
  readonly kind: StorageErrorKind;
  readonly location: string;
  readonly key: string | undefined;
  /** kind 'locked': when the lock ends (null: append-only, no date). */
  readonly lockedUntil: Date | null;

  constructor(kind: StorageErrorKind, location: string, message: string, options?: { key?: string; cause?: unknown; lockedUntil?: Date | null }) {
    super(`${location}: ${message}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StorageError';
    this.kind = kind;
    this.location = location;
    this.key = options?.key;
    this.lockedUntil = options?.lockedUntil ?? null;
  }
}

export function isStorageError(err: unknown, kind?: StorageErrorKind): err is StorageError {
  return err instanceof StorageError && (kind === undefined || err.kind === kind);
}

/** Bytes and objects of a listing: the usage of a store that has no cheaper way to tell. */
export async function sumListing(objects: AsyncIterable<ObjectInfo>): Promise<StorageUsage> {
  let bytes = 0;
  let count = 0;
  for await (const o of objects) {
    bytes += o.size;
    count++;
  }
  return { bytes, objects: count };
}

/** How a backend is wrapped: timeouts, retries, logging, the outbound network policy. */
export interface BackendOptions {
  /** Per-call timeout for every storage call (local ones too). */
  timeoutMs: number;
  /** Attempts after the first for transient failures. */
  retries: number;
  /** Base of the exponential backoff between attempts. */
  backoffMs: number;
  log?: (msg: string) => void;
  /** The installation's outbound network policy (config.outbound); unset: the default denied networks. */
  outbound?: Partial<OutboundPolicyConfig>;
  /** The clock object locks are compared with (the engine's; injected by tests). */
  now?: () => Date;
}
