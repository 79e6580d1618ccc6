/**
 * One conformance suite, run against every storage backend (restic's internal/backend/test): local disk,
 * memory, S3 (s3rver), Azure Blob (Azurite) and GCS (an in-process JSON API server) — the real SDKs talk to
 * real protocol servers. Then fault tests: the retry wrapper over the SDKs behind a fault-injecting proxy.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StorageLocationConfig } from '../../server/config';
import { StorageError, type StorageBackend } from '../../server/engine/storage/backend';
import { createBackend, type BackendOptions } from '../../server/engine/storage/factory';
import { LocalBackend } from '../../server/engine/storage/local';
import { MemoryBackend } from '../../server/engine/storage/memory';
import { redact, resetStorageRetryStats, storageRetryStats, withRetries } from '../../server/engine/storage/retrying';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type Azurite } from '../support/azurite';
import { seededRandom, startFaultProxy, type FaultProxy } from '../support/fault-proxy';
import { startGcsServer, type GcsServer } from '../support/gcs-server';
import { S3RVER_CREDENTIALS, startS3Server, type S3Server } from '../support/s3-server';

const MiB = 1024 * 1024;
const OPTS: BackendOptions = { timeoutMs: 15_000, retries: 2, backoffMs: 20 };
/** Small pages, so a few dozen objects exercise the cloud backends' paging. */
const PAGE = 7;

let seq = 0;
const uniq = (p: string) => `${p}-${++seq}-${randomBytes(3).toString('hex')}`;

let s3: S3Server;
let azurite: Azurite;
let gcs: GcsServer;
let tmp: string;

beforeAll(async () => {
  // allSettled, so whatever did start is stopped in afterAll even when another server failed to start.
  const started = await Promise.allSettled([
    startS3Server().then((x) => (s3 = x)),
    startAzurite().then((x) => (azurite = x)),
    startGcsServer().then((x) => (gcs = x)),
    mkdtemp(path.join(tmpdir(), 'px-storage-')).then((x) => (tmp = x)),
  ]);
  for (const r of started) if (r.status === 'rejected') throw r.reason;
});
afterAll(async () => {
  await Promise.all([s3?.close(), azurite?.close(), gcs?.close(), tmp ? rm(tmp, { recursive: true, force: true }) : undefined]);
});

const base = (name: string, type: StorageLocationConfig['type']): StorageLocationConfig => ({ name, type, priority: 10, region: 'test', enabled: true });
const s3Loc = (bucket: string, extra: Record<string, unknown> = {}): StorageLocationConfig => ({
  ...base(uniq('s3'), 's3'), bucket_name: bucket, region: 'us-east-1', endpoint: s3.endpoint, force_path_style: true, list_page_size: PAGE, ...S3RVER_CREDENTIALS, ...extra,
});
const azureLoc = (container: string, extra: Record<string, unknown> = {}): StorageLocationConfig => ({
  ...base(uniq('azure'), 'azure'), container_name: container, connection_string: azurite.connectionString, list_page_size: PAGE, ...extra,
});
const gcsLoc = (bucket: string, extra: Record<string, unknown> = {}): StorageLocationConfig => ({
  ...base(uniq('gcs'), 'gcs'), bucket_name: bucket, project: 'test-project', api_endpoint: gcs.url, list_page_size: PAGE, ...extra,
});

async function failure(p: Promise<unknown>): Promise<StorageError> {
  const err = await p.then(
    () => new Error('expected the call to fail'),
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StorageError);
  return err as StorageError;
}

interface Harness {
  /** A backend on its own, already initialised bucket/container/directory. */
  fresh(): Promise<StorageBackend>;
  /** A backend whose bucket/container/directory does not exist yet. */
  uninitialised(): Promise<StorageBackend>;
  /** Whether ping fails before init (there is a container to be missing). */
  missingBeforeInit: boolean;
}

function conformance(name: string, harness: () => Harness): void {
  describe(`storage conformance: ${name}`, () => {
    let h: Harness;
    let b: StorageBackend;
    const opened: StorageBackend[] = [];
    const track = async (p: Promise<StorageBackend>) => {
      const x = await p;
      opened.push(x);
      return x;
    };
    beforeAll(async () => {
      h = harness();
      b = await track(h.fresh());
    });
    afterAll(async () => {
      for (const x of opened) await x.close();
    });

    it('round-trips binary objects: 1 MiB + 3 bytes, every byte value, one byte, empty', async () => {
      const objects: Record<string, Buffer> = {
        'rt/big': randomBytes(MiB + 3),
        'rt/bytes': Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
        'rt/one': Buffer.from([0]),
        'rt/empty': Buffer.alloc(0),
        'rt/deep/er/key.bin': randomBytes(100),
      };
      for (const [k, v] of Object.entries(objects)) await b.put(k, v);
      for (const [k, v] of Object.entries(objects)) {
        const back = await b.get(k);
        expect(back.length).toBe(v.length);
        expect(back.equals(v)).toBe(true);
        expect(await b.stat(k)).toEqual({ key: k, size: v.length });
      }
    });

    it('overwrite is idempotent, and new bytes replace the old', async () => {
      const one = randomBytes(5000);
      await b.put('ow/k', one);
      await b.put('ow/k', one);
      expect((await b.get('ow/k')).equals(one)).toBe(true);
      const two = randomBytes(123);
      await b.put('ow/k', two);
      expect((await b.get('ow/k')).equals(two)).toBe(true);
      expect(await b.stat('ow/k')).toEqual({ key: 'ow/k', size: 123 });
    });

    it('stat of a missing object is null; get of one is not_found', async () => {
      expect(await b.stat('missing/nothing-here')).toBeNull();
      const err = await failure(b.get('missing/nothing-here'));
      expect(err.kind).toBe('not_found');
      expect(err.location).toBe(b.name);
      expect(err.message).toContain('missing/nothing-here');
    });


    it('reads an object whole whatever size the caller expects (a restore passes the catalog\'s), many at once; a missing one is not_found', async () => {
      // The local location reads with a size in batches through native/readfiles (batch-read.ts); the others ignore it.
      const objects = Array.from({ length: 12 }, (_, i) => ({ key: `hint/o${i}`, data: randomBytes(i === 0 ? 0 : i * 150_000 + i) }));
      for (const o of objects) await b.put(o.key, o.data);
      const hints = (n: number) => [n, n - 1, 0, n + 1, 3 * MiB].filter((h) => h >= 0);
      const reads = objects.flatMap((o) => hints(o.data.length).map((hint) => ({ o, hint, got: b.get(o.key, hint) })));
      for (const r of reads) {
        const back = await r.got;
        expect({ key: r.o.key, hint: r.hint, length: back.length }).toEqual({ key: r.o.key, hint: r.hint, length: r.o.data.length });
        expect(back.equals(r.o.data)).toBe(true);
      }
      // Sizes no object has (a damaged catalog) change nothing either, and allocate nothing of their size.
      for (const hint of [-5, Number.NaN, 0.5, 2 ** 53, 1e12]) expect((await b.get(objects[3]!.key, hint)).equals(objects[3]!.data)).toBe(true);
      const err = await failure(b.get('missing/hinted', 1000));
      expect(err.kind).toBe('not_found');
      expect(err.message).toContain('missing/hinted');
    });
    it('lists by prefix, across several pages', async () => {
      const keys = Array.from({ length: 37 }, (_, i) => `ls/a/${String(i).padStart(3, '0')}`);
      await Promise.all(keys.map((k, i) => b.put(k, Buffer.alloc(i, 7))));
      await Promise.all(['ls/ab', 'ls/b/1', 'ls/b/2'].map((k) => b.put(k, Buffer.from(k))));
      const collect = async (prefix: string) => {
        const out = new Map<string, number>();
        for await (const o of b.list(prefix)) {
          expect(out.has(o.key)).toBe(false);
          out.set(o.key, o.size);
        }
        return out;
      };
      const a = await collect('ls/a/');
      expect([...a.keys()].sort()).toEqual(keys);
      keys.forEach((k, i) => expect(a.get(k)).toBe(i));
      expect((await collect('ls/a')).size).toBe(38);
      expect([...(await collect('ls/b/')).keys()].sort()).toEqual(['ls/b/1', 'ls/b/2']);
      expect((await collect('ls/none/')).size).toBe(0);
    });

    it('deletes; deleting a missing object is fine', async () => {
      await b.put('del/k', Buffer.from('x'));
      await b.delete('del/k');
      expect(await b.stat('del/k')).toBeNull();
      expect((await failure(b.get('del/k'))).kind).toBe('not_found');
      await b.delete('del/k');
      await b.delete('del/never-existed');
    });

    it('usage counts the bytes and objects of the location', async () => {
      const own = await track(h.fresh());
      expect(await own.usage()).toEqual({ bytes: 0, objects: 0 });
      await own.put('u/1', Buffer.alloc(10));
      await own.put('u/2', Buffer.alloc(20));
      await own.put('u/3', Buffer.alloc(0));
      expect(await own.usage()).toEqual({ bytes: 30, objects: 3 });
    });

    it('ping answers', async () => {
      await b.ping();
    });

    it('init creates a missing bucket/container, and running it again is harmless', async () => {
      const u = await track(h.uninitialised());
      if (h.missingBeforeInit) await failure(u.ping());
      await u.init();
      await u.init();
      await u.ping();
      await u.put('after-init', Buffer.from('ok'));
      expect((await u.get('after-init')).toString()).toBe('ok');
    });
  });
}

conformance('local', () => ({
  fresh: async () => {
    const b = new LocalBackend(uniq('local'), path.join(tmp, uniq('dir')));
    await b.init();
    return b;
  },
  uninitialised: async () => new LocalBackend(uniq('local'), path.join(tmp, uniq('dir'), 'nested')),
  missingBeforeInit: true,
}));

conformance('memory', () => ({
  fresh: async () => new MemoryBackend(uniq('memory')),
  uninitialised: async () => new MemoryBackend(uniq('memory')),
  missingBeforeInit: false,
}));

conformance('s3 (s3rver)', () => ({
  fresh: async () => {
    // s3rver cannot page ListObjectsV2 on Node ≥ 17 (its continuation tokens use DES), so paging runs on V1 here.
    const b = await createBackend(s3Loc(uniq('bucket'), { list_version: 1 }), OPTS);
    await b.init();
    return b;
  },
  uninitialised: async () => createBackend(s3Loc(uniq('bucket'), { storage_class: 'standard_ia', server_side_encryption: 'AES256' }), OPTS),
  missingBeforeInit: true,
}));

conformance('azure (Azurite), with a key prefix', () => ({
  fresh: async () => {
    const b = await createBackend(azureLoc(uniq('container'), { prefix: 'plexi/' }), OPTS);
    await b.init();
    return b;
  },
  // Account name + key + endpoint instead of a connection string.
  uninitialised: async () =>
    createBackend({ ...base(uniq('azure'), 'azure'), container_name: uniq('container'), account_name: AZURITE_ACCOUNT, account_key: AZURITE_KEY, blob_endpoint: azurite.blobEndpoint, storage_class: 'cool' }, OPTS),
  missingBeforeInit: true,
}));

conformance('gcs (JSON API server), with a key prefix', () => ({
  fresh: async () => {
    const b = await createBackend(gcsLoc(uniq('bucket'), { prefix: 'plexi' }), OPTS);
    await b.init();
    return b;
  },
  uninitialised: async () => createBackend(gcsLoc(uniq('bucket'), { storage_class: 'nearline' }), OPTS),
  missingBeforeInit: true,
}));

describe('storage faults', () => {
  const proxies: FaultProxy[] = [];
  const backends: StorageBackend[] = [];
  const proxy = async (target: string, seed = 1) => {
    const p = await startFaultProxy(target, {}, seededRandom(seed));
    proxies.push(p);
    return p;
  };
  const open = async (loc: StorageLocationConfig, opts: BackendOptions = OPTS) => {
    const b = await createBackend(loc, opts);
    backends.push(b);
    return b;
  };
  afterAll(async () => {
    for (const b of backends) await b.close();
    for (const p of proxies) await p.close();
  });

  it('S3 behind a proxy failing ~30% of requests with 503: a batch of puts and gets succeeds; retries are counted and logged', async () => {
    const p = await proxy(s3.endpoint, 42);
    const logs: string[] = [];
    const loc = s3Loc(uniq('bucket'), { endpoint: p.url });
    resetStorageRetryStats(loc.name);
    const b = await open(loc, { timeoutMs: 5000, retries: 8, backoffMs: 2, log: (m) => logs.push(m) });
    await b.init();
    p.set({ failureRate: 0.3, maxConsecutiveFailures: 3 });
    const objects = Array.from({ length: 30 }, (_, i) => randomBytes(1000 + i * 97));
    await Promise.all(objects.map((d, i) => b.put(`flaky/${i}`, d)));
    const back = await Promise.all(objects.map((_, i) => b.get(`flaky/${i}`)));
    back.forEach((d, i) => expect(d.equals(objects[i]!)).toBe(true));

    expect(p.stats.injected).toBeGreaterThan(5);
    expect(storageRetryStats()[loc.name]).toEqual({ retries: p.stats.injected, failures: 0, timeouts: 0 });
    expect(logs).toHaveLength(p.stats.injected);
    for (const line of logs) expect(line).toMatch(new RegExp(`^storage retry ${loc.name} (put|get) flaky/\\d+ attempt \\d/9: cannot (write|read) flaky/\\d+: `));
  });

  const clouds: [string, (endpoint: string) => StorageLocationConfig, () => string][] = [
    ['s3', (url) => s3Loc(uniq('bucket'), { endpoint: url }), () => s3.endpoint],
    ['azure', (url) => azureLoc(uniq('container'), { connection_string: undefined, account_name: AZURITE_ACCOUNT, account_key: AZURITE_KEY, blob_endpoint: `${url}/${AZURITE_ACCOUNT}` }), () => `http://127.0.0.1:${azurite.port}`],
    ['gcs', (url) => gcsLoc(uniq('bucket'), { api_endpoint: url }), () => gcs.url],
  ];

  it.each(clouds)('%s: a stopped location fails with unavailable within the time limit, and recovers when back', async (_, makeLoc, target) => {
    const p = await proxy(target());
    const loc = makeLoc(p.url);
    const b = await open(loc, { timeoutMs: 2000, retries: 2, backoffMs: 10 });
    await b.init();
    await b.put('k', Buffer.from('v'));
    await p.stop();
    const t0 = Date.now();
    const err = await failure(b.get('k'));
    expect(err.kind).toBe('unavailable');
    expect(err.message).toContain(loc.name);
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(storageRetryStats()[loc.name]?.retries).toBe(2);
    await p.start();
    expect((await b.get('k')).toString()).toBe('v');
  });

  it.each(clouds)('%s: a location that accepts requests but never answers times out with unavailable', async (_, makeLoc, target) => {
    const p = await proxy(target());
    const loc = makeLoc(p.url);
    const b = await open(loc, { timeoutMs: 300, retries: 1, backoffMs: 10 });
    await b.init();
    p.set({ hang: true });
    const t0 = Date.now();
    const err = await failure(b.put('k', Buffer.from('v')));
    expect(err.kind).toBe('unavailable');
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(p.stats.requests).toBeGreaterThanOrEqual(3);
  });

  it('bad credentials are permanent, never retried, and never echoed (S3 and Azure)', async () => {
    const s3Proxy = await proxy(s3.endpoint);
    const secret = 'wrong-secret-0123456789abcdef';
    const bucketLoc = s3Loc(uniq('bucket'));
    await (await open(bucketLoc)).init();
    // s3rver checks the access key id but not V4 signatures, so the key id is the wrong part here.
    const badS3 = await open({ ...bucketLoc, name: uniq('s3-bad'), endpoint: s3Proxy.url, access_key_id: 'AKIAWRONGKEY', secret_access_key: secret });
    const e1 = await failure(badS3.put('x', Buffer.from('x')));
    expect(e1.kind).toBe('permanent');
    expect(e1.message).toMatch(/access denied.*check the location's credentials/);
    expect(s3Proxy.stats.requests).toBe(1);

    const azProxy = await proxy(`http://127.0.0.1:${azurite.port}`);
    const badKey = randomBytes(64).toString('base64');
    const badAz = await open(azureLoc(uniq('container'), { connection_string: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${badKey};BlobEndpoint=${azProxy.url}/${AZURITE_ACCOUNT};` }));
    const e2 = await failure(badAz.init());
    expect(e2.kind).toBe('permanent');
    expect(azProxy.stats.requests).toBe(1);

    for (const [e, name] of [[e1, badS3.name], [e2, badAz.name]] as const) {
      expect(e.message).toContain(name);
      expect(e.message).not.toContain(secret);
      expect(e.message).not.toContain(badKey);
      expect(storageRetryStats()[name]).toEqual({ retries: 0, failures: 1, timeouts: 0 });
    }
  });

  it('a missing object is an answer, not a failure: not retried, not counted', async () => {
    const p = await proxy(s3.endpoint);
    const loc = s3Loc(uniq('bucket'), { endpoint: p.url });
    const b = await open(loc);
    await b.init();
    const before = p.stats.requests;
    expect((await failure(b.get('nope'))).kind).toBe('not_found');
    expect(p.stats.requests - before).toBe(1);
    expect(storageRetryStats()[loc.name]).toEqual({ retries: 0, failures: 0, timeouts: 0 });
  });
});

describe('archive tiers', () => {
  it('S3: reading a Glacier object fails as archived and issues RestoreObject; a second read reports the restore in progress', async () => {
    const bucket = uniq('bucket');
    const restores: string[] = [];
    let restoreStatus = 202;
    const p = await startFaultProxy(s3.endpoint, {
      // s3rver has no Glacier: answer what S3 answers for an object that has not been restored.
      intercept: ({ method, url, body }) => {
        const u = new URL(url, 'http://proxy');
        if (u.pathname !== `/${bucket}/cold/obj`) return undefined;
        if (method === 'GET') {
          const xml = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidObjectState</Code><Message>The operation is not valid for the object\'s storage class</Message><StorageClass>GLACIER</StorageClass></Error>';
          return { status: 403, headers: { 'content-type': 'application/xml' }, body: xml };
        }
        if (method === 'POST' && u.searchParams.has('restore')) {
          restores.push(body.toString());
          const xml = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>RestoreAlreadyInProgress</Code><Message>Object restore is already in progress</Message></Error>';
          return restoreStatus === 202 ? { status: 202 } : { status: restoreStatus, headers: { 'content-type': 'application/xml' }, body: xml };
        }
        return undefined;
      },
    });
    try {
      const loc = s3Loc(bucket, { endpoint: p.url, storage_class: 'glacier', restore_days: 3, restore_tier: 'Bulk' });
      const b = await createBackend(loc, OPTS);
      await b.init();
      await b.put('cold/obj', Buffer.from('frozen'));
      const e1 = await failure(b.get('cold/obj'));
      expect(e1.kind).toBe('archived');
      expect(e1.message).toMatch(/cold\/obj is in GLACIER .*rehydration was started \(RestoreObject, Bulk tier, kept 3 days\).*retry later/);
      expect(restores).toHaveLength(1);
      expect(restores[0]).toMatch(/<Days>3<\/Days>.*<Tier>Bulk<\/Tier>/s);
      restoreStatus = 409;
      const e2 = await failure(b.get('cold/obj'));
      expect(e2.message).toContain('rehydration is already in progress');
      expect(storageRetryStats()[loc.name]).toMatchObject({ retries: 0 });
      await b.close();
    } finally {
      await p.close();
    }
  });

  it('Azure: reading an Archive-tier blob fails as archived and starts rehydration; the read then succeeds (Azurite rehydrates at once)', async () => {
    const b = await createBackend(azureLoc(uniq('container'), { storage_class: 'archive', rehydrate_priority: 'High' }), OPTS);
    await b.init();
    await b.put('cold/1', Buffer.from('frozen'));
    expect(await b.stat('cold/1')).toEqual({ key: 'cold/1', size: 6 });
    const err = await failure(b.get('cold/1'));
    expect(err.kind).toBe('archived');
    expect(err.message).toMatch(/cold\/1 is in the Archive tier.*rehydration to the Hot tier was started \(High priority\).*retry later/);
    expect((await b.get('cold/1')).toString()).toBe('frozen');
    await b.close();
  });
});

describe('retry wrapper details', () => {
  /** Fails the first listing after three objects: the wrapper must restart without repeating keys. */
  class ListFailsOnce extends MemoryBackend {
    failed = false;
    override async *list(prefix: string) {
      let n = 0;
      for await (const o of super.list(prefix)) {
        if (!this.failed && ++n > 3) {
          this.failed = true;
          throw new StorageError('unavailable', this.name, 'connection reset during listing');
        }
        yield o;
      }
    }
  }

  it('a listing that fails midway restarts and yields every key exactly once', async () => {
    const inner = new ListFailsOnce(uniq('mem'));
    for (let i = 0; i < 10; i++) await inner.put(`k/${i}`, Buffer.alloc(i));
    const b = withRetries(inner, { retries: 2, backoffMs: 1, timeoutMs: 1000 });
    const keys: string[] = [];
    for await (const o of b.list('k/')) keys.push(o.key);
    expect(keys.sort()).toEqual(Array.from({ length: 10 }, (_, i) => `k/${i}`).sort());
    expect(b.stats).toEqual({ retries: 1, failures: 0, timeouts: 0 });
  });

  it('backs off exponentially with full jitter up to the cap, logs each retry, then gives up', async () => {
    class Down extends MemoryBackend {
      override async get(key: string): Promise<Buffer> {
        throw new StorageError('unavailable', this.name, `cannot read ${key}: connection refused`, { key });
      }
    }
    const delays: number[] = [];
    const logs: string[] = [];
    const b = withRetries(new Down(uniq('down')), {
      retries: 4, backoffMs: 100, maxBackoffMs: 300, timeoutMs: 1000, random: () => 0.5, sleep: async (ms) => void delays.push(ms), log: (m) => logs.push(m),
    });
    expect((await failure(b.get('k'))).kind).toBe('unavailable');
    expect(delays).toEqual([50, 100, 150, 150]);
    expect(logs[0]).toBe(`storage retry ${b.name} get k attempt 1/5: cannot read k: connection refused`);
    expect(logs).toHaveLength(4);
    expect(b.stats).toEqual({ retries: 4, failures: 1, timeouts: 0 });
  });

  it('S3: ListObjectsV2 (the default) lists, and a key prefix keeps objects under it', async () => {
    const bucket = uniq('bucket');
    const scoped = await createBackend(s3Loc(bucket, { prefix: 'tenant-a' }), OPTS);
    const whole = await createBackend(s3Loc(bucket), OPTS);
    await scoped.init();
    await scoped.put('x/1', Buffer.from('one'));
    await whole.put('other', Buffer.from('two'));
    expect(await whole.stat('tenant-a/x/1')).toEqual({ key: 'tenant-a/x/1', size: 3 });
    const scopedKeys: string[] = [];
    for await (const o of scoped.list('')) scopedKeys.push(o.key);
    expect(scopedKeys).toEqual(['x/1']);
    const wholeKeys: string[] = [];
    for await (const o of whole.list('')) wholeKeys.push(o.key);
    expect(wholeKeys.sort()).toEqual(['other', 'tenant-a/x/1']);
    await Promise.all([scoped.close(), whole.close()]);
  });

  it('redacts credentials from messages', async () => {
    const text = 'failed: DefaultEndpointsProtocol=https;AccountName=a;AccountKey=c2VjcmV0a2V5;EndpointSuffix=x https://a/b?sv=1&sig=abc%2Fdef&se=2 Credential=AKIA123/2026 my-s3cr3t';
    const out = redact(text, ['my-s3cr3t']);
    for (const secret of ['c2VjcmV0a2V5', 'abc%2Fdef', 'AKIA123', 'my-s3cr3t']) expect(out).not.toContain(secret);
    expect(out).toContain('AccountName=a');
  });
});

describe('GCS test server protocol', () => {
  it('serves resumable uploads, single-request and chunked, to the real SDK', async () => {
    const { Storage } = await import('@google-cloud/storage');
    const storage = new Storage({ apiEndpoint: gcs.url, projectId: 'test-project', retryOptions: { autoRetry: false } });
    const bucket = uniq('bucket');
    await storage.createBucket(bucket);
    const data = randomBytes(600 * 1024 + 5);
    const file = storage.bucket(bucket).file('resumable/one');
    await file.save(data, { resumable: true, validation: 'md5' });
    expect((await file.download())[0].equals(data)).toBe(true);
    const chunked = storage.bucket(bucket).file('resumable/chunked');
    await chunked.save(data, { resumable: true, chunkSize: 256 * 1024, validation: 'crc32c' });
    expect((await chunked.download({ validation: 'md5' }))[0].equals(data)).toBe(true);
    expect(gcs.stats['resumable-put']).toBeGreaterThanOrEqual(4);
  });
});
