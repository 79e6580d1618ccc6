/**
 * Azure Blob Storage (and Azurite). Objects are block blobs written with one Put Blob, so a reader never sees
 * a partial object. The SDK's own retries are off: the RetryingBackend wrapper owns the retry policy.
 */
import { AnonymousCredential, BlobServiceClient, StorageSharedKeyCredential, type ContainerClient, type StoragePipelineOptions } from '@azure/storage-blob';
import { AZURE_ACCESS_TIERS, azureLocationKeys, parseCloudKeys, type AzureLocationKeys } from '../../config-cloud';
import type { StorageLocationConfig } from '../../config';
import { type Immutability, immutabilityOf } from '../../config-immutability';
import { StorageError, type ObjectInfo, type ObjectLock, type PutOptions, type StorageBackend, type StorageUsage, sumListing } from './backend';
import { agentFor, guardedAgents, type GuardedAgents } from '../net/agents';
import { findOutboundDenial, OutboundPolicy } from '../net/outbound-policy';
import type { BackendOptions } from './backend';
import { failureReason, toStorageError, withRetries } from './retrying';

export interface AzureBackendOptions {
  /** Time limit of one HTTP request inside the SDK. */
  timeoutMs?: number;
  /** Where the client may connect (config.outbound); default: the default denied networks. */
  policy?: OutboundPolicy;
  /** The location's immutability: blobs get a version-level immutability policy, and deletes respect it. */
  immutability?: Immutability | null;
  /** The clock policies are compared with (injected by tests). */
  now?: () => Date;
}

/** Azure names the modes Unlocked (S3's governance: the account may still shorten or delete the policy) and Locked. */
const POLICY_MODE = { governance: 'Unlocked', compliance: 'Locked' } as const;

export class AzureBackend implements StorageBackend {
  readonly type = 'azure';
  private readonly container: ContainerClient;
  private readonly prefix: string;
  private readonly agents: GuardedAgents;
  private readonly immutability: Immutability | null;
  private readonly now: () => Date;

  constructor(
    readonly name: string,
    private readonly keys: AzureLocationKeys,
    opts: AzureBackendOptions = {},
  ) {
    this.prefix = keys.prefix && !keys.prefix.endsWith('/') ? `${keys.prefix}/` : keys.prefix;
    this.immutability = opts.immutability ?? null;
    this.now = opts.now ?? (() => new Date());
    const pipeline: StoragePipelineOptions = { retryOptions: { maxTries: 1, tryTimeoutInMs: opts.timeoutMs && opts.timeoutMs > 0 ? opts.timeoutMs : undefined } };
    // The pipeline takes one agent for every request (core-rest-pipeline's `agent` option, passed through by
    // storage-blob but not in its types), and node refuses an https agent for an http URL: pick the one of the
    // endpoint's protocol. A redirect to the other protocol then fails instead of leaving the policy.
    this.agents = guardedAgents(opts.policy ?? OutboundPolicy.for(), { keepAlive: true });
    const endpoint = serviceClient(keys, pipeline).url;
    const guarded = { ...pipeline, agent: agentFor(this.agents, endpoint) } as StoragePipelineOptions;
    this.container = serviceClient(keys, guarded).getContainerClient(keys.container_name);
  }

  async init(): Promise<void> {
    try {
      const props = await this.container.getProperties();
      return this.checkImmutability(props.isImmutableStorageWithVersioningEnabled);
    } catch (err) {
      if (err instanceof StorageError) throw err;
      const reason = failureReason(err);
      if (reason !== 'not_found' && reason !== 'no_container') throw this.wrap(err, 'reach container');
    }
    try {
      await this.container.createIfNotExists();
    } catch (err) {
      throw this.wrap(err, 'create container');
    }
    if (this.immutability) this.checkImmutability(false);
  }

  /**
   * Blob-level immutability policies need version-level immutability support on the container (or the
   * account), which is chosen when it is created. Azurite has none (its Set Immutability Policy answers Not
   * Implemented), so an immutable location on Azurite is refused here too.
   */
  private checkImmutability(enabled: boolean | undefined): void {
    if (!this.immutability || enabled) return;
    throw new StorageError(
      'permanent',
      this.name,
      `container ${this.keys.container_name} does not have version-level immutability support, but the location is configured with immutability (${this.immutability.mode}); create a container with it (az storage container-rm create --enable-vlw, or on an account created with it) and point container_name at it, or remove immutability from the location`,
    );
  }

  async put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    const lock = opts?.lock;
    if (lock && !this.immutability) throw new StorageError('permanent', this.name, `cannot write ${key} locked: the location has no immutability configured`, { key });
    try {
      await this.container.getBlockBlobClient(this.blobName(key)).upload(data, data.length, {
        tier: this.keys.storage_class && AZURE_ACCESS_TIERS[this.keys.storage_class],
        blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
        immutabilityPolicy: lock ? { expiriesOn: lock.until, policyMode: POLICY_MODE[lock.mode] } : undefined,
      });
    } catch (err) {
      throw this.wrap(err, 'write', key);
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      const res = await this.container.getBlobClient(this.blobName(key)).download(0);
      const body = res.readableStreamBody;
      if (!body) return Buffer.alloc(0);
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
      return Buffer.concat(chunks);
    } catch (err) {
      if (failureReason(err) === 'archived') throw await this.archived(key, err);
      throw this.wrap(err, 'read', key);
    }
  }

  /** Starts rehydration out of the Archive tier so a later read can succeed, and says so in the error. */
  private async archived(key: string, cause: unknown): Promise<StorageError> {
    const tier = AZURE_ACCESS_TIERS[this.keys.rehydrate_tier];
    const priority = this.keys.rehydrate_priority;
    let what: string;
    try {
      await this.container.getBlobClient(this.blobName(key)).setAccessTier(tier, { rehydratePriority: priority });
      what = `rehydration to the ${tier} tier was started (${priority} priority)`;
    } catch (err) {
      // The code comes from the endpoint's answer: shown only when it looks like an error code.
      const raw = (err as { code?: unknown }).code;
      const code = typeof raw === 'string' && /^[A-Za-z][\w.-]{0,63}$/.test(raw) ? raw : 'error';
      what =
        code === 'BlobBeingRehydrated'
          ? 'rehydration is already in progress'
          : `rehydration could not be started (${code}); change the blob's tier to ${tier} in the Azure portal or CLI`;
    }
    const wait = priority === 'High' ? 'usually under an hour' : 'up to 15 hours';
    return new StorageError('archived', this.name, `object ${key} is in the Archive tier and cannot be read until it is rehydrated; ${what} — retry later (${wait})`, { key, cause });
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const props = await this.container.getBlobClient(this.blobName(key)).getProperties();
      return { key, size: props.contentLength ?? 0 };
    } catch (err) {
      if (failureReason(err) === 'not_found') return null;
      throw this.wrap(err, 'stat', key);
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const pages = this.container.listBlobsFlat({ prefix: this.prefix + prefix }).byPage({ maxPageSize: this.keys.list_page_size });
    const it = pages[Symbol.asyncIterator]();
    for (;;) {
      let page;
      try {
        page = await it.next();
      } catch (err) {
        throw this.wrap(err, 'list', prefix);
      }
      if (page.done) return;
      for (const b of page.value.segment.blobItems) yield { key: b.name.slice(this.prefix.length), size: b.properties.contentLength ?? 0 };
    }
  }

  async delete(key: string): Promise<void> {
    // Never even ask for the delete of a blob under an immutability policy.
    const held = this.immutability ? await this.lockOf(key) : null;
    if (held && held.until > this.now()) throw this.locked(key, held.until);
    try {
      await this.container.getBlobClient(this.blobName(key)).deleteIfExists();
    } catch (err) {
      // The service's clock is ahead of ours: the policy still holds.
      if (held && (err as { statusCode?: number }).statusCode === 409) throw this.locked(key, held.until);
      throw this.wrap(err, 'delete', key);
    }
  }

  async lockOf(key: string): Promise<ObjectLock | null> {
    let props;
    try {
      props = await this.container.getBlobClient(this.blobName(key)).getProperties();
    } catch (err) {
      if (failureReason(err) === 'not_found') return null;
      throw this.wrap(err, 'stat', key);
    }
    if (!props.immutabilityPolicyExpiresOn) return null;
    return { mode: props.immutabilityPolicyMode === 'Locked' ? 'compliance' : 'governance', until: props.immutabilityPolicyExpiresOn };
  }

  async extendLock(key: string, lock: ObjectLock): Promise<void> {
    const held = await this.lockOf(key);
    if (held && held.until >= lock.until) return;
    const policyMode = held?.mode === 'compliance' || lock.mode === 'compliance' ? 'Locked' : 'Unlocked';
    try {
      await this.container.getBlobClient(this.blobName(key)).setImmutabilityPolicy({ expiriesOn: lock.until, policyMode });
    } catch (err) {
      throw this.wrap(err, 'extend the immutability policy of', key);
    }
  }

  private locked(key: string, until: Date): StorageError {
    return new StorageError('locked', this.name, `${key} is under an immutability policy until ${until.toISOString()}; it is kept and deleted after that date`, { key, lockedUntil: until });
  }

  usage(): Promise<StorageUsage> {
    return sumListing(this.list(''));
  }

  async ping(): Promise<void> {
    try {
      await this.container.getProperties();
    } catch (err) {
      throw this.wrap(err, 'reach container');
    }
  }

  async close(): Promise<void> {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  private blobName(key: string): string {
    if (key === '' || key.startsWith('/')) throw new StorageError('permanent', this.name, `invalid object key "${key}"`, { key });
    return this.prefix + key;
  }

  private wrap(err: unknown, op: string, key?: string): StorageError {
    // A refusal by the outbound policy is configuration, not a network hiccup: never retried.
    const denied = findOutboundDenial(err);
    if (denied) return new StorageError('permanent', this.name, `cannot ${op}${key ? ` ${key}` : ''}: ${denied.message}`, { key, cause: err });
    // A HEAD on a missing container answers 404 with only a header code; say what is missing.
    if (op === 'reach container' && failureReason(err) === 'not_found') {
      return new StorageError('permanent', this.name, `container ${this.keys.container_name} does not exist; create it or let the location's init create it, and check container_name`, { cause: err });
    }
    return toStorageError(err, {
      location: this.name,
      op,
      key,
      service: 'Azure Blob Storage',
      container: `container ${this.keys.container_name}`,
      secrets: [this.keys.account_key, this.keys.sas_token, this.keys.connection_string],
    });
  }
}

function serviceClient(keys: AzureLocationKeys, pipeline: StoragePipelineOptions): BlobServiceClient {
  if (keys.connection_string) return BlobServiceClient.fromConnectionString(keys.connection_string, pipeline);
  const account = keys.account_name!;
  const url = (keys.blob_endpoint ?? keys.endpoint ?? `https://${account}.blob.core.windows.net`).replace(/\/+$/, '');
  if (keys.account_key) return new BlobServiceClient(url, new StorageSharedKeyCredential(account, keys.account_key), pipeline);
  const sas = keys.sas_token!.replace(/^\?/, '');
  return new BlobServiceClient(`${url}?${sas}`, new AnonymousCredential(), pipeline);
}

/** The Azure backend for a configured location, wrapped with the configured retries and timeout. */
export function createAzureBackend(loc: StorageLocationConfig, opts: BackendOptions): StorageBackend {
  const keys = parseCloudKeys(azureLocationKeys, loc, (msg) => new StorageError('permanent', loc.name, msg));
  return withRetries(new AzureBackend(loc.name, keys, { timeoutMs: opts.timeoutMs, policy: OutboundPolicy.for(opts.outbound), immutability: immutabilityOf(loc), now: opts.now }), opts);
}
