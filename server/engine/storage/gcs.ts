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
import { StorageError, type ObjectInfo, type StorageBackend, type StorageUsage, sumListing } from './backend';
import { installContextualAgents, withOutboundPolicy } from '../net/agents';
import { findOutboundDenial, OutboundPolicy } from '../net/outbound-policy';
import type { BackendOptions } from './backend';
import { failureReason, toStorageError, withRetries } from './retrying';

export interface GcsBackendOptions {
  /** Time limit of one HTTP request inside the SDK. */
  timeoutMs?: number;
  /** Where the client may connect (config.outbound); default: the default denied networks. */
  policy?: OutboundPolicy;
}

export class GcsBackend implements StorageBackend {
  readonly type = 'gcs';
  private readonly storage: Storage;
  private readonly bucket: Bucket;
  private readonly prefix: string;
  private readonly timeout: number | undefined;
  private readonly storageClass: string | undefined;
  private readonly policy: OutboundPolicy;

  constructor(
    readonly name: string,
    private readonly keys: GcsLocationKeys,
    opts: GcsBackendOptions = {},
  ) {
    this.prefix = keys.prefix && !keys.prefix.endsWith('/') ? `${keys.prefix}/` : keys.prefix;
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
      if (exists) return;
      await this.guard(() => this.storage.createBucket(this.keys.bucket_name, { storageClass: this.storageClass, location: this.keys.location }));
    } catch (err) {
      // Created concurrently by another process: fine.
      if ((err as { code?: unknown }).code === 409) return;
      throw this.wrap(err, 'create bucket');
    }
  }

  async put(key: string, data: Buffer): Promise<void> {
    try {
      const file = this.bucket.file(this.objectName(key));
      await this.guard(() =>
        file.save(data, {
          resumable: false,
          // The SDK compares the CRC32C the service computed with its own and deletes the object on a mismatch.
          validation: 'crc32c',
          metadata: { contentType: 'application/octet-stream', storageClass: this.storageClass },
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
    try {
      const file = this.bucket.file(this.objectName(key));
      await this.guard(() => file.delete({ ignoreNotFound: true }));
    } catch (err) {
      throw this.wrap(err, 'delete', key);
    }
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
  return withRetries(new GcsBackend(loc.name, keys, { timeoutMs: opts.timeoutMs, policy: OutboundPolicy.for(opts.outbound) }), opts);
}
