/**
 * OUR OWN protocol-level S3 Object Lock test server: an HTTP proxy in front of an in-process s3rver (which
 * stores the bytes and answers everything else). No npm S3 server enforces Object Lock (s3rver ignores every
 * `x-amz-object-lock-*` header), so this one adds what our Object Lock code depends on, shaped as S3 answers:
 *
 *   - CreateBucket with `x-amz-bucket-object-lock-enabled: true` enables Object Lock on the bucket (or pass
 *     `lockedBuckets`); GetObjectLockConfiguration (`GET /bucket?object-lock`) answers `ObjectLockEnabled:
 *     Enabled`, or 404 ObjectLockConfigurationNotFoundError for a bucket without it;
 *   - PutObject with `x-amz-object-lock-mode` + `x-amz-object-lock-retain-until-date` records the lock per key
 *     (400 InvalidRequest on a bucket without Object Lock, 400 InvalidArgument for a bad mode or a date not in
 *     the future); HeadObject / GetObject answer with both headers and an `x-amz-version-id`;
 *   - GetObjectRetention / PutObjectRetention (`?retention`): a COMPLIANCE lock can only be lengthened; a
 *     GOVERNANCE lock can be shortened, removed or changed only with `x-amz-bypass-governance-retention: true`;
 *   - DeleteObject of a key locked until later than `now()` → 403 AccessDenied, for COMPLIANCE whatever the
 *     request says, for GOVERNANCE unless it carries `x-amz-bypass-governance-retention: true`.
 *
 * Where it differs from S3, and why: S3 Object Lock buckets are versioned. There a DELETE without a versionId
 * succeeds by adding a delete marker (the locked version stays), and an overwrite adds a new version (the
 * locked one stays). This server keeps one version per key, so it refuses both with 403 AccessDenied — the
 * stricter answer: a client that passes here never relies on a delete marker or an overwrite to free space.
 * DeleteObjects (`POST ?delete`) is refused with 501 (our backend never sends it). The clock is injectable
 * (`now`) so tests expire locks without sleeping.
 */
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

type Mode = 'GOVERNANCE' | 'COMPLIANCE';
interface Lock {
  mode: Mode;
  until: number;
  version: string;
}

interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  httpServer?: { closeAllConnections(): void };
}
// s3rver ships no types. allowMismatchedSignatures: this proxy forwards requests whose signature it cannot redo.
const S3rver = createRequire(import.meta.url)('s3rver') as new (o: Record<string, unknown>) => S3rverInstance;

export interface S3LockServer {
  endpoint: string;
  /** The lock recorded for a key, if any (tests look at what the client asked for). */
  lockOf(bucket: string, key: string): { mode: Mode; until: Date } | null;
  close(): Promise<void>;
}

export async function startS3LockServer(opts: { lockedBuckets?: string[]; plainBuckets?: string[]; now?: () => number } = {}): Promise<S3LockServer> {
  const now = opts.now ?? Date.now;
  const directory = await mkdtemp(path.join(tmpdir(), 'px-s3lock-'));
  const buckets = [...(opts.lockedBuckets ?? []), ...(opts.plainBuckets ?? [])];
  const upstream = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, allowMismatchedSignatures: true, configureBuckets: buckets.map((name) => ({ name })) });
  const { port: upPort } = await upstream.run();
  const lockEnabled = new Set(opts.lockedBuckets ?? []);
  const locks = new Map<string, Lock>();
  let versions = 0;

  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer, extra: Record<string, string> = {}, after?: (status: number) => void) => {
    const headers = { ...req.headers };
    for (const h of Object.keys(headers)) if (h.startsWith('x-amz-object-lock-') || h === 'x-amz-bucket-object-lock-enabled') delete headers[h];
    const up = request({ host: '127.0.0.1', port: upPort, method: req.method, path: req.url, headers }, (upRes) => {
      const status = upRes.statusCode ?? 502;
      after?.(status);
      res.writeHead(status, { ...upRes.headers, ...(status < 300 ? extra : {}) });
      upRes.pipe(res);
    });
    up.on('error', (err) => fail(res, 502, 'InternalError', err.message));
    up.end(body);
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        handle(req, res, Buffer.concat(chunks));
      } catch (err) {
        fail(res, 500, 'InternalError', (err as Error).message);
      }
    });
  });

  function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://x');
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    const id = `${bucket}/${key}`;
    const q = url.searchParams;
    const lock = locks.get(id);
    const live = lock && lock.until > now() ? lock : null;
    const bypass = String(req.headers['x-amz-bypass-governance-retention']).toLowerCase() === 'true';
    const lockHeaders = (l: Lock | undefined): Record<string, string> =>
      l ? { 'x-amz-object-lock-mode': l.mode, 'x-amz-object-lock-retain-until-date': new Date(l.until).toISOString(), 'x-amz-version-id': l.version } : {};

    if (!key) {
      if (req.method === 'GET' && q.has('object-lock')) {
        if (!lockEnabled.has(bucket)) return fail(res, 404, 'ObjectLockConfigurationNotFoundError', 'Object Lock configuration does not exist for this bucket');
        return xml(res, 200, '<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>');
      }
      if (req.method === 'POST' && q.has('delete')) return fail(res, 501, 'NotImplemented', 'DeleteObjects is not supported by this test server');
      const enable = req.method === 'PUT' && String(req.headers['x-amz-bucket-object-lock-enabled']).toLowerCase() === 'true';
      return forward(req, res, body, {}, (status) => {
        if (enable && status < 300) lockEnabled.add(bucket);
      });
    }
    if (q.has('retention')) {
      if (req.method === 'GET') {
        if (!lock) return fail(res, 404, 'NoSuchObjectLockConfiguration', 'The specified object does not have an ObjectLock configuration');
        return xml(res, 200, `<Retention><Mode>${lock.mode}</Mode><RetainUntilDate>${new Date(lock.until).toISOString()}</RetainUntilDate></Retention>`);
      }
      if (req.method === 'PUT') return putRetention(res, bucket, id, body.toString('utf8'), live, bypass);
    }
    if (req.method === 'DELETE') {
      if (live && (live.mode === 'COMPLIANCE' || !bypass)) return fail(res, 403, 'AccessDenied', 'Access Denied because object protected by object lock.');
      return forward(req, res, body, {}, (status) => {
        if (status < 300) locks.delete(id);
      });
    }
    if (req.method === 'PUT' && !req.headers['x-amz-copy-source'] && !q.has('uploadId')) {
      const mode = req.headers['x-amz-object-lock-mode'];
      const until = req.headers['x-amz-object-lock-retain-until-date'];
      if ((mode || until) && !lockEnabled.has(bucket)) return fail(res, 400, 'InvalidRequest', 'Bucket is missing Object Lock Configuration');
      if (live) return fail(res, 403, 'AccessDenied', 'Access Denied because object protected by object lock (this test server keeps one version per key).');
      let next: Lock | null = null;
      if (mode || until) {
        const at = Date.parse(String(until));
        if ((mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') || !Number.isFinite(at)) return fail(res, 400, 'InvalidArgument', 'x-amz-object-lock-mode and x-amz-object-lock-retain-until-date must both be given, with a valid mode and date');
        if (at <= now()) return fail(res, 400, 'InvalidArgument', 'The retain until date must be in the future!');
        next = { mode, until: at, version: `v${++versions}` };
      }
      return forward(req, res, body, lockHeaders(next ?? undefined), (status) => {
        if (status >= 300) return;
        if (next) locks.set(id, next);
        else locks.delete(id);
      });
    }
    if (req.method === 'HEAD' || req.method === 'GET') return forward(req, res, body, lockHeaders(lock));
    forward(req, res, body);
  }

  function putRetention(res: ServerResponse, bucket: string, id: string, doc: string, live: Lock | null, bypass: boolean): void {
    if (!lockEnabled.has(bucket)) return fail(res, 400, 'InvalidRequest', 'Bucket is missing Object Lock Configuration');
    const mode = /<Mode>([A-Z]+)<\/Mode>/.exec(doc)?.[1];
    const at = Date.parse(/<RetainUntilDate>([^<]+)<\/RetainUntilDate>/.exec(doc)?.[1] ?? '');
    if ((mode !== 'GOVERNANCE' && mode !== 'COMPLIANCE') || !Number.isFinite(at)) return fail(res, 400, 'MalformedXML', 'The XML you provided was not well-formed or did not validate against our published schema');
    if (at <= now()) return fail(res, 400, 'InvalidArgument', 'The retain until date must be in the future!');
    if (live) {
      const weaker = at < live.until || (live.mode === 'COMPLIANCE' && mode === 'GOVERNANCE');
      if (weaker && (live.mode === 'COMPLIANCE' || !bypass)) return fail(res, 403, 'AccessDenied', 'Access Denied because object protected by object lock.');
    }
    // The object must exist: ask the store.
    const [, ...keyParts] = id.split('/');
    const head = request({ host: '127.0.0.1', port: upPort, method: 'HEAD', path: `/${bucket}/${keyParts.map(encodeURIComponent).join('/')}` }, (r) => {
      r.resume();
      if (r.statusCode === 404) return fail(res, 404, 'NoSuchKey', 'The specified key does not exist.');
      locks.set(id, { mode, until: at, version: live?.version ?? locks.get(id)?.version ?? `v${++versions}` });
      res.writeHead(200).end();
    });
    head.on('error', (err) => fail(res, 502, 'InternalError', err.message));
    head.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    lockOf(bucket, key) {
      const l = locks.get(`${bucket}/${key}`);
      return l ? { mode: l.mode, until: new Date(l.until) } : null;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        upstream.httpServer?.closeAllConnections();
        await upstream.close();
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    },
  };
}

function xml(res: ServerResponse, status: number, doc: string): void {
  res.writeHead(status, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>\n${doc}`);
}

function fail(res: ServerResponse, status: number, code: string, message: string): void {
  if (res.headersSent) return void res.destroy();
  const body = `<Error><Code>${code}</Code><Message>${message}</Message></Error>`;
  // HEAD answers carry no body (the SDK then reads the status alone).
  xml(res, status, body);
}
