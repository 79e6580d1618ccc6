/**
 * Retry behaviour for storage locations, added as a wrapper (restic's `wrapBackend`): a per-call timeout,
 * retries of transient ('unavailable') failures only, exponential backoff with full jitter, a log line per
 * retry and per-location counters for metrics. Also the one place SDK/HTTP errors are classified into
 * StorageError kinds, so every cloud backend reports failures the same way.
 */
import { markStillRead, StorageError, type ObjectInfo, type ObjectLock, type PutOptions, type StorageBackend, type StorageErrorKind, type StorageSpace, type StorageUsage, sumListing } from './backend';

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number;
  /** Base delay; attempt n waits a random time in [0, backoffMs · 2ⁿ] (full jitter), capped by maxBackoffMs. */
  backoffMs: number;
  /** Per-call (per list page) time limit; 0 disables it. */
  timeoutMs: number;
  maxBackoffMs?: number;
  log?: (msg: string) => void;
  onRetry?: (info: RetryInfo) => void;
  /** Injected for deterministic tests. */
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface RetryInfo {
  location: string;
  op: string;
  key: string | undefined;
  /** The attempt that failed, 1-based. */
  attempt: number;
  attempts: number;
  delayMs: number;
  error: StorageError;
}

export interface RetryCounters {
  retries: number;
  /** Operations that failed for good (not_found excluded: it is an answer, not a failure). */
  failures: number;
  timeouts: number;
}

const counters = new Map<string, RetryCounters>();

function countersFor(location: string): RetryCounters {
  let c = counters.get(location);
  if (!c) counters.set(location, (c = { retries: 0, failures: 0, timeouts: 0 }));
  return c;
}

/** A snapshot of the retry counters of every wrapped location, for metrics. */
export function storageRetryStats(): Record<string, RetryCounters> {
  return Object.fromEntries([...counters].map(([name, c]) => [name, { ...c }]));
}

export function resetStorageRetryStats(location?: string): void {
  if (location === undefined) counters.clear();
  else counters.delete(location);
}

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class RetryingBackend implements StorageBackend {
  readonly name: string;
  readonly type: string;

  constructor(
    readonly inner: StorageBackend,
    private readonly opts: RetryOptions,
  ) {
    this.name = inner.name;
    this.type = inner.type;
    countersFor(this.name);
  }

  /** This location's counters (shared with any other wrapper of the same location). */
  get stats(): RetryCounters {
    return countersFor(this.name);
  }

  init(): Promise<void> {
    return this.run('init', undefined, () => this.inner.init());
  }
  put(key: string, data: Buffer, opts?: PutOptions): Promise<void> {
    // A failed attempt, timed out above all, may go on reading `data` after this call settles.
    return this.run('put', key, () => this.inner.put(key, data, opts), () => markStillRead(data));
  }
  get(key: string, sizeHint?: number): Promise<Buffer> {
    return this.run('get', key, () => this.inner.get(key, sizeHint));
  }
  stat(key: string): Promise<ObjectInfo | null> {
    return this.run('stat', key, () => this.inner.stat(key));
  }
  delete(key: string): Promise<void> {
    return this.run('delete', key, () => this.inner.delete(key));
  }
  get lockOf(): ((key: string) => Promise<ObjectLock | null>) | undefined {
    const inner = this.inner;
    return inner.lockOf ? (key) => this.run('read the lock of', key, () => inner.lockOf!(key)) : undefined;
  }
  get purge(): ((key: string) => Promise<void>) | undefined {
    const inner = this.inner;
    return inner.purge ? (key) => this.run('delete', key, () => inner.purge!(key)) : undefined;
  }
  get extendLock(): ((key: string, lock: ObjectLock) => Promise<void>) | undefined {
    const inner = this.inner;
    return inner.extendLock ? (key, lock) => this.run('extend the lock of', key, () => inner.extendLock!(key, lock)) : undefined;
  }
  /** Summed over the wrapped listing, so a large location gets a time limit per page, not one for the whole walk. */
  usage(): Promise<StorageUsage> {
    return sumListing(this.list(''));
  }
  ping(): Promise<void> {
    return this.run('ping', undefined, () => this.inner.ping());
  }
  get space(): (() => Promise<StorageSpace>) | undefined {
    const inner = this.inner;
    return inner.space ? () => this.run('read the free space', undefined, () => inner.space!()) : undefined;
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  /**
   * A failed page restarts the listing; keys already handed out are skipped, because a restarted listing
   * has no cursor to resume from and callers must not see an object twice.
   */
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const seen = new Set<string>();
    for (let attempt = 1; ; attempt++) {
      const it = this.inner.list(prefix)[Symbol.asyncIterator]();
      try {
        for (;;) {
          const r = await this.timed(it.next(), 'list', prefix);
          if (r.done) return;
          if (seen.has(r.value.key)) continue;
          seen.add(r.value.key);
          yield r.value;
        }
      } catch (err) {
        void it.return?.()?.catch(() => undefined);
        await this.afterFailure(err, 'list', prefix, attempt);
      } finally {
        // Also when the caller stops early; a no-op on a finished iterator.
        void it.return?.()?.catch(() => undefined);
      }
    }
  }

  private async run<T>(op: string, key: string | undefined, fn: () => Promise<T>, onFailedAttempt?: () => void): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.timed(fn(), op, key);
      } catch (err) {
        onFailedAttempt?.();
        await this.afterFailure(err, op, key, attempt);
      }
    }
  }

  /** Rethrows when the error is final; otherwise counts, logs and waits before the next attempt. */
  private async afterFailure(err: unknown, op: string, key: string | undefined, attempt: number): Promise<void> {
    const error = err instanceof StorageError ? err : toStorageError(err, { location: this.name, op, key });
    const attempts = this.opts.retries + 1;
    if (error.kind !== 'unavailable' || attempt >= attempts) {
      if (error.kind !== 'not_found' && error.kind !== 'locked') this.stats.failures++;
      throw error;
    }
    const cap = Math.min(this.opts.backoffMs * 2 ** (attempt - 1), this.opts.maxBackoffMs ?? 30_000);
    const delayMs = Math.round((this.opts.random ?? Math.random)() * cap);
    this.stats.retries++;
    const detail = error.message.startsWith(`${this.name}: `) ? error.message.slice(this.name.length + 2) : error.message;
    this.opts.log?.(`storage retry ${this.name} ${op} ${key ?? '-'} attempt ${attempt}/${attempts}: ${detail}`);
    this.opts.onRetry?.({ location: this.name, op, key, attempt, attempts, delayMs, error });
    await (this.opts.sleep ?? realSleep)(delayMs);
  }

  /**
   * The timed-out call is abandoned, not cancelled; every operation is idempotent, so a late success is harmless
   * (a put's buffer is marked still read, so its memory is never refilled under it: backend.ts isStillRead).
   */
  private timed<T>(p: Promise<T>, op: string, key: string | undefined): Promise<T> {
    const ms = this.opts.timeoutMs;
    if (!(ms > 0) || !Number.isFinite(ms)) return p;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.stats.timeouts++;
        const what = key ? `${op} ${key}` : op;
        reject(new StorageError('unavailable', this.name, `${what} timed out after ${ms / 1000} s; check that the location is reachable, or raise storage_timeout_seconds`, { key }));
      }, ms);
    });
    return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
  }
}

export function withRetries(backend: StorageBackend, opts: RetryOptions): RetryingBackend {
  return new RetryingBackend(backend, opts);
}

// ---- error classification -------------------------------------------------------------------------

interface ErrorFacts {
  status: number | undefined;
  codes: string[];
  message: string;
}

const NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'EHOSTUNREACH',
  'ENETUNREACH', 'ENETDOWN', 'ESOCKETTIMEDOUT', 'TimeoutError', 'RequestTimeout', 'RequestTimeoutException',
  'AbortError', 'REQUEST_SEND_ERROR', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'ERR_STREAM_PREMATURE_CLOSE',
]);
const THROTTLE_CODES = new Set(['SlowDown', 'ServerBusy', 'ServiceUnavailable', 'InternalError', 'OperationTimedOut', 'Throttling', 'ThrottlingException', 'TooManyRequests', 'rateLimitExceeded', 'backendError']);
const ARCHIVED_CODES = new Set(['InvalidObjectState', 'BlobArchived', 'BlobBeingRehydrated']);
const NOT_FOUND_CODES = new Set(['NoSuchKey', 'NotFound', 'BlobNotFound', 'notFound']);
const AUTH_CODES = new Set([
  'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied', 'AuthorizationFailure', 'AuthenticationFailed',
  'AuthorizationPermissionMismatch', 'AuthorizationResourceTypeMismatch', 'ExpiredToken', 'InvalidToken',
  'InvalidClientTokenId', 'AccountIsDisabled', 'forbidden', 'unauthorized', 'authError', 'InvalidAuthenticationInfo',
  'CredentialsProviderError',
]);
/** Errors of reading local files a location needs (a credentials file): retrying cannot help. */
const LOCAL_FILE_CODES = new Set(['ENOENT', 'EACCES', 'EPERM', 'EISDIR']);
/** google-auth-library reports missing or rejected credentials only in words. */
const AUTH_MESSAGE = /could not load the default credentials|could not load credentials|invalid_grant|unauthorized_client/i;
const MISSING_CONTAINER_CODES = new Set(['NoSuchBucket', 'ContainerNotFound', 'ContainerBeingDeleted']);

/** Collects status and error codes from an SDK error and its causes (AWS, Azure and GCS spell them differently). */
function factsOf(err: unknown): ErrorFacts {
  const codes: string[] = [];
  let status: number | undefined;
  let message = '';
  let e: unknown = err;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const o = e as Record<string, unknown>;
    const meta = o.$metadata as { httpStatusCode?: unknown } | undefined;
    const response = o.response as { status?: unknown } | undefined;
    for (const s of [meta?.httpStatusCode, o.statusCode, o.status, response?.status, o.code]) {
      if (status === undefined && typeof s === 'number' && s >= 100 && s < 600) status = s;
    }
    for (const c of [o.code, o.Code, o.name, (o.details as { errorCode?: unknown } | undefined)?.errorCode]) {
      if (typeof c === 'string' && c && c !== 'Error') codes.push(c);
    }
    if (Array.isArray(o.errors)) for (const x of o.errors) if (x && typeof (x as { reason?: unknown }).reason === 'string') codes.push((x as { reason: string }).reason);
    if (!message && typeof o.message === 'string') message = o.message;
    e = o.cause;
  }
  return { status, codes, message };
}

export type FailureReason = 'archived' | 'not_found' | 'auth' | 'no_container' | 'local_file' | 'transient' | 'rejected';

export function failureReason(err: unknown): FailureReason {
  const { status, codes, message } = factsOf(err);
  const has = (set: Set<string>) => codes.some((c) => set.has(c));
  if (has(ARCHIVED_CODES)) return 'archived';
  // GCS reports a missing bucket with the same reason as a missing object; only the message differs.
  if (has(MISSING_CONTAINER_CODES) || (status === 404 && /bucket does not exist/i.test(message))) return 'no_container';
  if (has(NOT_FOUND_CODES)) return 'not_found';
  if (has(AUTH_CODES) || AUTH_MESSAGE.test(message)) return 'auth';
  if (has(LOCAL_FILE_CODES)) return 'local_file';
  if (has(NETWORK_CODES) || has(THROTTLE_CODES)) return 'transient';
  if (status === undefined) return 'transient';
  if (status === 404) return 'not_found';
  if (status === 401 || status === 403) return 'auth';
  if (status === 408 || status === 429 || status >= 500) return 'transient';
  return 'rejected';
}

const KIND_OF: Record<FailureReason, StorageErrorKind> = {
  archived: 'archived',
  not_found: 'not_found',
  auth: 'permanent',
  no_container: 'permanent',
  local_file: 'permanent',
  transient: 'unavailable',
  rejected: 'permanent',
};

export function classifyError(err: unknown): StorageErrorKind {
  return KIND_OF[failureReason(err)];
}

const SECRET_PATTERNS: RegExp[] = [
  /\b(AccountKey|SharedAccessSignature|SharedAccessKey|sig|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|private_key|access_token|password)=([^;&\s"',]+)/gi,
  /\bCredential=[^,\s]+/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

/** Removes credentials from text meant for logs or users: the known secrets, then anything shaped like one. */
export function redact(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('••••');
  for (const re of SECRET_PATTERNS) out = out.replace(re, (m, k: string | undefined) => (k && m.includes('=') ? `${k}=••••` : '••••'));
  return out;
}

export interface ErrorContext {
  location: string;
  op: string;
  key?: string | undefined;
  /** "S3", "Azure Blob", "Google Cloud Storage"… */
  service?: string;
  /** "bucket plexi-backups", "container backups"… */
  container?: string;
  /** Credential values to scrub from messages. */
  secrets?: readonly (string | undefined)[];
}

/** Maps an SDK/HTTP error to a StorageError whose message names the location and says what to do. */
export function toStorageError(err: unknown, ctx: ErrorContext): StorageError {
  if (err instanceof StorageError) return err;
  const reason = failureReason(err);
  const facts = factsOf(err);
  // With an HTTP status the message came from the endpoint's answer: report the status and an error-code-shaped
  // code only, so whoever runs an endpoint cannot put text into logs, the console or a probe result.
  const named = facts.codes.find((c) => /^[A-Za-z][\w.-]{0,63}$/.test(c));
  const detail = redact(
    facts.status !== undefined
      ? `${named ? `${named}, ` : ''}HTTP ${facts.status}`
      : `${named ?? 'error'}${facts.message && facts.message !== named ? `: ${facts.message.split('\n')[0]!.slice(0, 200)}` : ''}`,
    ctx.secrets,
  );
  const service = ctx.service ?? 'the storage service';
  const where = ctx.key ? ` ${ctx.key}` : '';
  const container = ctx.container ?? 'the bucket';
  const messages: Record<FailureReason, string> = {
    not_found: `object${where} not found`,
    archived: `object${where} is in an archive tier and must be rehydrated before it can be read (${detail}); rehydrate it, then retry`,
    auth: `cannot ${ctx.op}${where}: access denied by ${service} (${detail}); check the location's credentials and that they grant access to ${container}`,
    no_container: `cannot ${ctx.op}${where}: ${container} does not exist (${detail}); create it or let the location's init create it, and check the name in the configuration`,
    local_file: `cannot ${ctx.op}${where}: a local file the location needs cannot be read (${detail}); check credentials_json and other paths in the location's configuration`,
    transient: `cannot ${ctx.op}${where}: ${service} is unavailable (${detail}); check the endpoint and network — transient failures are retried automatically`,
    rejected: `cannot ${ctx.op}${where}: ${service} rejected the request (${detail}); check the location's configuration`,
  };
  return new StorageError(KIND_OF[reason], ctx.location, messages[reason], { key: ctx.key, cause: err });
}
