/**
 * Google Cloud Storage. Objects are written with one non-resumable (multipart) upload — shards are small, so a
 * resumable session would only add round trips — and verified by CRC32C on upload and download. GCS has no
 * offline tier (Archive objects read in milliseconds), so this backend never reports 'archived'. The SDK's own
 * retries are off: the RetryingBackend wrapper owns the retry policy.
 */
import { Storage, type Bucket, type StorageOptions } from '@google-cloud/storage';
import { pool as teenyRequestAgents } from 'teeny-request/build/src/agents.js';
import { GCS_STORAGE_CLASSES, gcsLocationKeys, parseCloudKeys, type GcsLocationKeys } from '../../config-cloud';
import type { StorageLocationConfig } from '../../config';
import { type Immutability, immutabilityOf } from '../../config-immutability';
import { StorageError, type ObjectInfo, type ObjectLock, type PutOptions, type StorageBackend, type StorageUsage, sumListing } from './backend';
import { installContextualAgents, withOutboundPolicy } from '../net/agents';
import { findOutboundDenial, OutboundPolicy } from '../net/outbound-policy';
import type { BackendOptions } from './backend';
import { failureReason, toStorageError, withRetries } from './retrying';

export interface GcsBackendOptions {
  /** Time limit of one HTTP request inside the SDK. */
  timeoutMs?: number;
  /** Where the client may connect (config.outbound); default: the default denied networks. */
  policy?: OutboundPolicy;
  /** The location's immutability: objects are written with Object Retention Lock, and deletes respect it. */
  immutability?: Immutability | null;
  /** The clock retention is compared with (injected by tests). */
  now?: () => Date;
}

/** GCS names the modes Unlocked (S3's governance) and Locked (compliance). */
const RETENTION_MODE = { governance: 'Unlocked', compliance: 'Locked' } as const;

export class GcsBackend implements StorageBackend {
  readonly type = 'gcs';
  private readonly storage: Storage;
  private readonly bucket: Bucket;
  private readonly prefix: string;
  private readonly timeout: number | undefined;
  private readonly storageClass: string | undefined;
  private readonly policy: OutboundPolicy;
  private readonly immutability: Immutability | null;
  private readonly now: () => Date;

  constructor(
    readonly name: string,
    private readonly keys: GcsLocationKeys,
    opts: GcsBackendOptions = {},
  ) {
    this.prefix = keys.prefix && !keys.prefix.endsWith('/') ? `${keys.prefix}/` : keys.prefix;
    this.immutability = opts.immutability ?? null;
    this.now = opts.now ?? (() => new Date());
    this.timeout = opts.timeoutMs && opts.timeoutMs > 0 ? opts.timeoutMs : undefined;
    this.storageClass = keys.storage_class && GCS_STORAGE_CLASSES[keys.storage_class];
    // The SDK's HTTP layer (teeny-request) takes no agent per client; its pool gets agents that apply the
    // policy of the async context, and every call below runs inside this backend's policy.
    installContextualAgents(teenyRequestAgents);
    this.policy = opts.policy ?? OutboundPolicy.for();
    const options: StorageOptions = {
      projectId: keys.project,
      apiEndpoint: keys.api_endpoint,
      retryOptions: { autoRetry: false },
      timeout: this.timeout,
    };
    const creds = keys.credentials_json;
    if (creds?.trimStart().startsWith('{')) {
      try {
        options.credentials = JSON.parse(creds) as StorageOptions['credentials'];
      } catch {
        throw new StorageError('permanent', name, 'credentials_json holds text that is not valid JSON; give the path of the service-account key file, or its exact JSON');
      }
    } else if (creds) {
      options.keyFilename = creds;
    }
    this.storage = new Storage(options);
    this.bucket = this.storage.bucket(keys.bucket_name);
  }

  async init(): Promise<void> {
    try {
      const [exists] = await this.guard(() => this.bucket.exists());
      if (exists) return await this.checkRetention();
      await this.guard(() =>
        this.storage.createBucket(this.keys.bucket_name, { storageClass: this.storageClass, location: this.keys.location, ...(this.immutability ? { enableObjectRetention: true } : {}) }),
      );
    } catch (err) {
      if (err instanceof StorageError) throw err;
      // Created concurrently by another process: fine.
      if ((err as { code?: unknown }).code === 409) return this.checkRetention();
      throw this.wrap(err, 'create bucket');
    }
  }

  /** With immutability configured, a bucket without Object Retention Lock is refused. */
  private async checkRetention(): Promise<void> {
    if (!this.immutability) return;
    let meta;
    try {
      [meta] = await this.guard(() => this.bucket.getMetadata());
    } catch (err) {
      throw this.wrap(err, 'read the metadata of the bucket');
    }
    if ((meta as { objectRetention?: { mode?: string } }).objectRetention?.mode !== 'Enabled') {
      throw new StorageError(
        'permanent',
        this.name,
        `bucket ${this.keys.bucket_name} does not have Object Retention Lock enabled, but the location is configured with immutability (${this.immutability.mode}); GCS enables it only when a bucket is created: create a new bucket with it (gcloud storage buckets create --enable-per-object-retention) and point bucket_name at it, or remove immutability from the location`,
      );
    }
  }

  async put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    const lock = opts?.lock;
    if (lock && !this.immutability) throw new StorageError('permanent', this.name, `cannot write ${key} locked: the location has no immutability configured`, { key });
    try {
      const file = this.bucket.file(this.objectName(key));
      await this.guard(() =>
        file.save(data, {
          resumable: false,
          // The SDK compares the CRC32C the service computed with its own and deletes the object on a mismatch.
          validation: 'crc32c',
          metadata: {
            contentType: 'application/octet-stream',
            storageClass: this.storageClass,
            ...(lock ? { retention: { mode: RETENTION_MODE[lock.mode], retainUntilTime: lock.until.toISOString() } } : {}),
          },
          timeout: this.timeout,
        }),
      );
    } catch (err) {
      throw this.wrap(err, 'write', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const file = this.bucket.file(this.objectName(key));
      const [data] = await this.guard(() => file.download({ validation: 'crc32c' }));
      return data;
    } catch (err) {
      throw this.wrap(err, 'read', key);
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const file = this.bucket.file(this.objectName(key));
      const [meta] = await this.guard(() => file.getMetadata());
      return { key, size: Number(meta.size ?? 0) };
    } catch (err) {
      if (failureReason(err) === 'not_found') return null;
      throw this.wrap(err, 'stat', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let pageToken: string | undefined;
    do {
      let files;
      let next;
      try {
        const query = { prefix: this.prefix + prefix, autoPaginate: false, maxResults: this.keys.list_page_size, pageToken };
        [files, next] = await this.guard(() => this.bucket.getFiles(query));
      } catch (err) {
        throw this.wrap(err, 'list', prefix);
      }
      for (const f of files) yield { key: f.name.slice(this.prefix.length), size: Number(f.metadata.size ?? 0) };
      pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
    } while (pageToken);
  }

  async delete(key: string): Promise<void> {
    // Never even ask for the delete of an object under retention.
    const held = this.immutability ? await this.lockOf(key) : null;
    if (held && held.until > this.now()) throw this.locked(key, held.until);
    try {
      const file = this.bucket.file(this.objectName(key));
      await this.guard(() => file.delete({ ignoreNotFound: true }));
    } catch (err) {
      // The store's clock is ahead of ours: it still holds the retention.
      if (held && (err as { code?: unknown }).code === 403) throw this.locked(key, held.until);
      throw this.wrap(err, 'delete', key);
    }
  }

  async lockOf(key: string): Promise<ObjectLock | null> {
    let meta;
    try {
      [meta] = await this.guard(() => this.bucket.file(this.objectName(key)).getMetadata());
    } catch (err) {
      if (failureReason(err) === 'not_found') return null;
      throw this.wrap(err, 'stat', key);
    }
    const r = (meta as { retention?: { mode?: string; retainUntilTime?: string } }).retention;
    if (!r?.retainUntilTime) return null;
    return { mode: r.mode === 'Locked' ? 'compliance' : 'governance', until: new Date(r.retainUntilTime) };
  }

  async extendLock(key: string, lock: ObjectLock): Promise<void> {
    const held = await this.lockOf(key);
    if (held && held.until >= lock.until) return;
    // A Locked retention stays Locked: GCS refuses to change its mode.
    const mode = held?.mode === 'compliance' || lock.mode === 'compliance' ? 'Locked' : 'Unlocked';
    try {
      await this.guard(() => this.bucket.file(this.objectName(key)).setMetadata({ retention: { mode, retainUntilTime: lock.until.toISOString() } }));
    } catch (err) {
      throw this.wrap(err, 'extend the retention of', key);
    }
  }

  private locked(key: string, until: Date): StorageError {
    return new StorageError('locked', this.name, `${key} is under Object Retention Lock until ${until.toISOString()}; it is kept and deleted after that date`, { key, lockedUntil: until });
  }

  usage(): Promise<StorageUsage> {
    return sumListing(this.list(''));
  }

  async ping(): Promise<void> {
    try {
      await this.guard(() => this.bucket.getMetadata());
    } catch (err) {
      throw this.wrap(err, 'reach bucket');
    }
  }

  async close(): Promise<void> {}

  /** Runs an SDK call under this location's outbound policy (read by the contextual agents). */
  private guard<T>(fn: () => Promise<T>): Promise<T> {
    return withOutboundPolicy(this.policy, fn);
  }

  private objectName(key: string): string {
    if (key === '' || key.startsWith('/')) throw new StorageError('permanent', this.name, `invalid object key "${key}"`, { key });
    return this.prefix + key;
  }

  private wrap(err: unknown, op: string, key?: string): StorageError {
    // A refusal by the outbound policy is configuration, not a network hiccup: never retried.
    const denied = findOutboundDenial(err);
    if (denied) return new StorageError('permanent', this.name, `cannot ${op}${key ? ` ${key}` : ''}: ${denied.message}`, { key, cause: err });
    if (op === 'reach bucket' && failureReason(err) === 'not_found') {
      return new StorageError('permanent', this.name, `bucket ${this.keys.bucket_name} does not exist; create it or let the location's init create it, and check bucket_name`, { cause: err });
    }
    const inline = this.keys.credentials_json?.trimStart().startsWith('{') ? this.keys.credentials_json : undefined;
    return toStorageError(err, {
      location: this.name,
      op,
      key,
      service: this.keys.api_endpoint ? `the GCS endpoint ${this.keys.api_endpoint}` : 'Google Cloud Storage',
      container: `bucket ${this.keys.bucket_name}`,
      secrets: [inline],
    });
  }
}

/** The GCS backend for a configured location, wrapped with the configured retries and timeout. */
export function createGcsBackend(loc: StorageLocationConfig, opts: BackendOptions): StorageBackend {
  const keys = parseCloudKeys(gcsLocationKeys, loc, (msg) => new StorageError('permanent', loc.name, msg));
  return withRetries(new GcsBackend(loc.name, keys, { timeoutMs: opts.timeoutMs, policy: OutboundPolicy.for(opts.outbound), immutability: immutabilityOf(loc), now: opts.now }), opts);
}
