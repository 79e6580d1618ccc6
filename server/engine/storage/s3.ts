/**
 * Amazon S3 and S3-compatible stores (MinIO, R2, B2, Wasabi, s3rver). The SDK's own retries are off: the
 * RetryingBackend wrapper owns the retry policy, so attempts are counted and bounded in one place.
 */
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  GetObjectLockConfigurationCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  PutObjectRetentionCommand,
  RestoreObjectCommand,
  S3Client,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { parseCloudKeys, S3_STORAGE_CLASSES, s3LocationKeys, type S3LocationKeys } from '../../config-cloud';
import type { StorageLocationConfig } from '../../config';
import { type Immutability, immutabilityOf } from '../../config-immutability';
import { StorageError, type ObjectInfo, type ObjectLock, type PutOptions, type StorageBackend, type StorageUsage, sumListing } from './backend';
import { guardedAgents } from '../net/agents';
import { findOutboundDenial, OutboundPolicy } from '../net/outbound-policy';
import type { BackendOptions } from './backend';
import { failureReason, toStorageError, withRetries } from './retrying';

export interface S3BackendOptions {
  /** Time limit of one HTTP request inside the SDK. */
  timeoutMs?: number;
  /** Where the client may connect (config.outbound); default: the default denied networks. */
  policy?: OutboundPolicy;
  /** The location's immutability: objects are written with S3 Object Lock, and deletes respect it. */
  immutability?: Immutability | null;
  /** The clock locks are compared with (injected by tests). */
  now?: () => Date;
}

/** How many versions of one key a delete removes at most (each overwrite of a locked key adds one). */
const MAX_VERSIONS = 16;

export class S3Backend implements StorageBackend {
  readonly type = 's3';
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly region: string;
  private readonly immutability: Immutability | null;
  private readonly now: () => Date;

  constructor(
    readonly name: string,
    private readonly keys: S3LocationKeys,
    opts: S3BackendOptions = {},
  ) {
    this.immutability = opts.immutability ?? null;
    this.now = opts.now ?? (() => new Date());
    this.bucket = keys.bucket_name;
    this.prefix = keys.prefix && !keys.prefix.endsWith('/') ? `${keys.prefix}/` : keys.prefix;
    // 'local' is the storage_locations default region label, not an AWS region.
    this.region = keys.region && keys.region !== 'local' ? keys.region : 'us-east-1';
    // The SDK's handler connects only through these: each socket goes to an address the policy checked.
    const agents = guardedAgents(opts.policy ?? OutboundPolicy.for(), { keepAlive: true });
    this.client = new S3Client({
      region: this.region,
      endpoint: keys.endpoint,
      forcePathStyle: keys.force_path_style,
      credentials: keys.access_key_id && keys.secret_access_key ? { accessKeyId: keys.access_key_id, secretAccessKey: keys.secret_access_key, sessionToken: keys.session_token } : undefined,
      // Without these, streamed uploads to several S3-compatibles store the aws-chunked framing in the object.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 1,
      requestHandler: {
        connectionTimeout: Math.min(opts.timeoutMs ?? 10_000, 10_000),
        requestTimeout: opts.timeoutMs ?? 0,
        throwOnRequestTimeout: true,
        httpAgent: agents.http,
        httpsAgent: agents.https,
      },
    });
  }

  async init(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return await this.checkObjectLock();
    } catch (err) {
      if (err instanceof StorageError) throw err;
      if (failureReason(err) !== 'not_found' && failureReason(err) !== 'no_container') throw this.wrap(err, 'reach bucket');
    }
    const region = this.region;
    try {
      await this.client.send(
        new CreateBucketCommand({
          Bucket: this.bucket,
          // us-east-1 is the default and must not be named as a constraint.
          CreateBucketConfiguration: region === 'us-east-1' ? undefined : { LocationConstraint: region as BucketLocationConstraint },
          // S3 turns Object Lock (and versioning) on only when the bucket is created, or through AWS support.
          ObjectLockEnabledForBucket: this.immutability ? true : undefined,
        }),
      );
    } catch (err) {
      const code = (err as { name?: string }).name;
      if (code === 'BucketAlreadyOwnedByYou') return this.checkObjectLock();
      if (code === 'BucketAlreadyExists') {
        throw new StorageError('permanent', this.name, `bucket ${this.bucket} belongs to another account; choose another bucket_name`, { cause: err });
      }
      throw this.wrap(err, 'create bucket');
    }
  }

  /** With immutability configured, a bucket without Object Lock is refused: its objects could be deleted by anyone. */
  private async checkObjectLock(): Promise<void> {
    if (!this.immutability) return;
    let enabled = false;
    try {
      const res = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket }));
      enabled = res.ObjectLockConfiguration?.ObjectLockEnabled === 'Enabled';
    } catch (err) {
      if ((err as { name?: string }).name !== 'ObjectLockConfigurationNotFoundError') throw this.wrap(err, 'read the Object Lock configuration of the bucket');
    }
    if (!enabled) {
      throw new StorageError(
        'permanent',
        this.name,
        `bucket ${this.bucket} does not have S3 Object Lock enabled, but the location is configured with immutability (${this.immutability.mode}); S3 enables Object Lock only when a bucket is created: create a new bucket with Object Lock enabled (aws s3api create-bucket --object-lock-enabled-for-bucket) and point bucket_name at it, or remove immutability from the location`,
      );
    }
  }

  async put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    const lock = opts?.lock;
    if (lock && !this.immutability) throw new StorageError('permanent', this.name, `cannot write ${key} locked: the location has no immutability configured`, { key });
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Body: data,
          ContentLength: data.length,
          // The store rejects the upload if the bytes arrive damaged.
          ContentMD5: createHash('md5').update(data).digest('base64'),
          ContentType: 'application/octet-stream',
          StorageClass: this.keys.storage_class && S3_STORAGE_CLASSES[this.keys.storage_class],
          ServerSideEncryption: this.keys.server_side_encryption,
          SSEKMSKeyId: this.keys.kms_key_id,
          ObjectLockMode: lock ? (lock.mode === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE') : undefined,
          ObjectLockRetainUntilDate: lock?.until,
        }),
      );
    } catch (err) {
      throw this.wrap(err, 'write', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      if (!res.Body) return Buffer.alloc(0);
      return Buffer.from(await res.Body.transformToByteArray());
    } catch (err) {
      if (failureReason(err) === 'archived') throw await this.archived(key, err);
      throw this.wrap(err, 'read', key);
    }
  }

  /** Starts a Glacier restore so a later read can succeed, and says so in the error. */
  private async archived(key: string, cause: unknown): Promise<StorageError> {
    const storageClass = (cause as { StorageClass?: string }).StorageClass ?? 'an archive storage class';
    const { restore_days: days, restore_tier: tier } = this.keys;
    let what: string;
    try {
      await this.client.send(new RestoreObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), RestoreRequest: { Days: days, GlacierJobParameters: { Tier: tier } } }));
      what = `rehydration was started (RestoreObject, ${tier} tier, kept ${days} days)`;
    } catch (err) {
      // The code comes from the endpoint's answer: shown only when it looks like an error code.
      const raw = (err as { name?: unknown }).name;
      const code = typeof raw === 'string' && /^[A-Za-z][\w.-]{0,63}$/.test(raw) ? raw : 'error';
      what =
        code === 'RestoreAlreadyInProgress'
          ? 'rehydration is already in progress'
          : `rehydration could not be started (${code}); start a restore of the object in the S3 console or with the AWS CLI`;
    }
    return new StorageError('archived', this.name, `object ${key} is in ${storageClass} and cannot be read until it is rehydrated; ${what} — retry later (hours for Glacier, up to 48 h for Deep Archive)`, { key, cause });
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { key, size: res.ContentLength ?? 0 };
    } catch (err) {
      if (failureReason(err) === 'not_found') return null;
      throw this.wrap(err, 'stat', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const Prefix = this.prefix + prefix;
    const MaxKeys = this.keys.list_page_size;
    let cursor: string | undefined;
    for (;;) {
      let contents;
      let next: string | undefined;
      try {
        if (this.keys.list_version === 2) {
          const page = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix, MaxKeys, ContinuationToken: cursor }));
          contents = page.Contents ?? [];
          next = page.IsTruncated ? page.NextContinuationToken : undefined;
        } else {
          // Version 1 names no next marker without a delimiter: continue after the last key.
          const page = await this.client.send(new ListObjectsCommand({ Bucket: this.bucket, Prefix, MaxKeys, Marker: cursor }));
          contents = page.Contents ?? [];
          next = page.IsTruncated ? (page.NextMarker ?? contents[contents.length - 1]?.Key) : undefined;
        }
      } catch (err) {
        throw this.wrap(err, 'list', prefix);
      }
      for (const o of contents) {
        if (o.Key !== undefined) yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0 };
      }
      if (!next) return;
      cursor = next;
    }
  }

  async delete(key: string): Promise<void> {
    if (this.immutability) return this.deleteVersions(key);
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (failureReason(err) === 'not_found') return;
      throw this.wrap(err, 'delete', key);
    }
  }

  /**
   * An Object Lock bucket is versioned: a DELETE without a version id only adds a delete marker and the data
   * stays. So each version is deleted by its id, newest first, and none is even tried while it is locked.
   */
  private async deleteVersions(key: string): Promise<void> {
    for (let i = 0; i < MAX_VERSIONS; i++) {
      const head = await this.head(key);
      if (!head) return;
      const until = head.ObjectLockRetainUntilDate;
      if (until && until > this.now()) throw this.locked(key, until);
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), VersionId: head.VersionId }));
      } catch (err) {
        if (failureReason(err) === 'not_found') return;
        // The store's clock is ahead of ours: it still holds the lock.
        if ((err as { name?: string }).name === 'AccessDenied' && until) throw this.locked(key, until);
        throw this.wrap(err, 'delete', key);
      }
      if (!head.VersionId) return;
    }
    throw new StorageError('permanent', this.name, `could not delete ${key}: it still has versions after ${MAX_VERSIONS} deletes; remove them with the AWS console or CLI (list-object-versions)`, { key });
  }

  async lockOf(key: string): Promise<ObjectLock | null> {
    const head = await this.head(key);
    if (!head?.ObjectLockRetainUntilDate) return null;
    return { mode: head.ObjectLockMode === 'COMPLIANCE' ? 'compliance' : 'governance', until: head.ObjectLockRetainUntilDate };
  }

  async extendLock(key: string, lock: ObjectLock): Promise<void> {
    const head = await this.head(key);
    if (!head) throw new StorageError('not_found', this.name, `cannot extend the lock of ${key}: the object does not exist`, { key });
    if (head.ObjectLockRetainUntilDate && head.ObjectLockRetainUntilDate >= lock.until) return;
    // A compliance lock keeps its mode: S3 refuses to turn it into governance.
    const mode = head.ObjectLockMode === 'COMPLIANCE' || lock.mode === 'compliance' ? 'COMPLIANCE' : 'GOVERNANCE';
    try {
      await this.client.send(new PutObjectRetentionCommand({ Bucket: this.bucket, Key: this.objectKey(key), VersionId: head.VersionId, Retention: { Mode: mode, RetainUntilDate: lock.until } }));
    } catch (err) {
      throw this.wrap(err, 'extend the lock of', key);
    }
  }

  private async head(key: string) {
    try {
      return await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      if (failureReason(err) === 'not_found') return null;
      throw this.wrap(err, 'stat', key);
    }
  }

  private locked(key: string, until: Date): StorageError {
    return new StorageError('locked', this.name, `${key} is locked (S3 Object Lock) until ${until.toISOString()}; it is kept and deleted after that date`, { key, lockedUntil: until });
  }

  usage(): Promise<StorageUsage> {
    return sumListing(this.list(''));
  }

  async ping(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw this.wrap(err, 'reach bucket');
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private objectKey(key: string): string {
    if (key === '' || key.startsWith('/')) throw new StorageError('permanent', this.name, `invalid object key "${key}"`, { key });
    return this.prefix + key;
  }

  private wrap(err: unknown, op: string, key?: string): StorageError {
    // A refusal by the outbound policy is configuration, not a network hiccup: never retried.
    const denied = findOutboundDenial(err);
    if (denied) return new StorageError('permanent', this.name, `cannot ${op}${key ? ` ${key}` : ''}: ${denied.message}`, { key, cause: err });
    // HeadBucket/HeadObject answer 404 without a body, so the SDK cannot tell a missing bucket from a missing key.
    const missingBucket = op === 'reach bucket' && failureReason(err) === 'not_found';
    if (missingBucket) {
      return new StorageError('permanent', this.name, `bucket ${this.bucket} does not exist; create it or let the location's init create it, and check bucket_name`, { cause: err });
    }
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (e.$metadata?.httpStatusCode === 301 || e.name === 'PermanentRedirect' || e.name === 'AuthorizationHeaderMalformed') {
      const where = key ? ` ${key}` : '';
      return new StorageError('permanent', this.name, `cannot ${op}${where}: bucket ${this.bucket} is in another region than "${this.region}" (${e.name ?? 'HTTP 301'}); set the location's region to the bucket's`, { key, cause: err });
    }
    return toStorageError(err, {
      location: this.name,
      op,
      key,
      service: this.keys.endpoint ? `the S3 endpoint ${this.keys.endpoint}` : 'S3',
      container: `bucket ${this.bucket}`,
      secrets: [this.keys.secret_access_key, this.keys.session_token],
    });
  }
}

/** The S3 backend for a configured location, wrapped with the configured retries and timeout. */
export function createS3Backend(loc: StorageLocationConfig, opts: BackendOptions): StorageBackend {
  const keys = parseCloudKeys(s3LocationKeys, loc, (msg) => new StorageError('permanent', loc.name, msg));
  return withRetries(new S3Backend(loc.name, keys, { timeoutMs: opts.timeoutMs, policy: OutboundPolicy.for(opts.outbound), immutability: immutabilityOf(loc), now: opts.now }), opts);
}
