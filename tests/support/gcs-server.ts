/**
 * A small in-memory server speaking the parts of the GCS JSON API that @google-cloud/storage uses, so the real
 * SDK can be tested against a real protocol: bucket get/insert, multipart and resumable uploads, downloads
 * with x-goog-hash, object metadata with correct md5Hash/crc32c, paged listing and delete. No auth is checked.
 *
 * Object Retention Lock, enforced as GCS documents it: a bucket created with `enableObjectRetention=true` (or
 * listed in `retentionBuckets`) reports `objectRetention: {mode: "Enabled"}`; an object written or patched
 * with `retention: {mode: "Unlocked"|"Locked", retainUntilTime}` cannot be deleted or replaced (403) before
 * that time; a Locked retention can only be lengthened; an Unlocked one is shortened, removed or changed only
 * with `overrideUnlockedRetention=true`. The clock is injectable (`now`).
 */
import { CRC32C } from '@google-cloud/storage';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

interface Retention {
  mode: 'Unlocked' | 'Locked';
  retainUntilTime: string;
}

interface StoredObject {
  retention?: Retention;
  data: Buffer;
  contentType: string;
  storageClass: string;
  generation: number;
  created: string;
}

interface Bucket {
  name: string;
  storageClass: string;
  location: string;
  created: string;
  objectRetention: boolean;
  objects: Map<string, StoredObject>;
}

interface ResumableSession {
  bucket: string;
  name: string;
  metadata: Record<string, unknown>;
  chunks: Buffer[];
  received: number;
}

export interface GcsServer {
  url: string;
  /** Requests served, by route name ("upload", "download", "list", …). */
  stats: Record<string, number>;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export async function startGcsServer(opts: { buckets?: string[]; retentionBuckets?: string[]; now?: () => number } = {}): Promise<GcsServer> {
  const clock = opts.now ?? Date.now;
  const buckets = new Map<string, Bucket>();
  const sessions = new Map<string, ResumableSession>();
  const stats: Record<string, number> = {};
  let generation = 1;
  const now = () => new Date(clock()).toISOString();
  const addBucket = (name: string, storageClass = 'STANDARD', location = 'US', objectRetention = false) =>
    buckets.set(name, { name, storageClass, location, created: now(), objectRetention, objects: new Map() });
  for (const b of opts.buckets ?? []) addBucket(b);
  for (const b of opts.retentionBuckets ?? []) addBucket(b, 'STANDARD', 'US', true);
  const retained = (o: StoredObject | undefined) => Boolean(o?.retention && Date.parse(o.retention.retainUntilTime) > clock());
  const parseRetention = (b: Bucket, v: unknown): Retention | undefined => {
    if (v === undefined || v === null) return undefined;
    if (!b.objectRetention) throw new HttpError(400, 'invalid', `Object Retention Lock is not enabled on bucket ${b.name}`);
    const r = v as Partial<Retention>;
    if ((r.mode !== 'Unlocked' && r.mode !== 'Locked') || !Number.isFinite(Date.parse(String(r.retainUntilTime)))) {
      throw new HttpError(400, 'invalid', 'retention needs mode "Unlocked" or "Locked" and a retainUntilTime');
    }
    return { mode: r.mode, retainUntilTime: new Date(String(r.retainUntilTime)).toISOString() };
  };

  let base = '';
  const count = (route: string) => (stats[route] = (stats[route] ?? 0) + 1);

  const bucketOf = (name: string): Bucket => {
    const b = buckets.get(name);
    if (!b) throw new HttpError(404, 'notFound', 'The specified bucket does not exist.');
    return b;
  };
  const bucketJson = (b: Bucket) => ({
    kind: 'storage#bucket', id: b.name, name: b.name, selfLink: `${base}/storage/v1/b/${b.name}`, storageClass: b.storageClass, location: b.location,
    timeCreated: b.created, updated: b.created, metageneration: '1', etag: 'CAE=', ...(b.objectRetention ? { objectRetention: { mode: 'Enabled' } } : {}),
  });
  const hashes = (data: Buffer) => {
    const crc = new CRC32C();
    crc.update(data);
    return { md5: createHash('md5').update(data).digest('base64'), crc32c: crc.toString() };
  };
  const objectJson = (bucket: string, name: string, o: StoredObject) => {
    const h = hashes(o.data);
    const enc = encodeURIComponent(name);
    return {
      kind: 'storage#object', id: `${bucket}/${name}/${o.generation}`, name, bucket,
      selfLink: `${base}/storage/v1/b/${bucket}/o/${enc}`, mediaLink: `${base}/download/storage/v1/b/${bucket}/o/${enc}?generation=${o.generation}&alt=media`,
      generation: String(o.generation), metageneration: '1', contentType: o.contentType, storageClass: o.storageClass,
      size: String(o.data.length), md5Hash: h.md5, crc32c: h.crc32c, etag: `C${o.generation}=`, timeCreated: o.created, updated: o.created,
      ...(o.retention ? { retention: o.retention } : {}),
    };
  };
  const store = (bucketName: string, name: string, meta: Record<string, unknown>, data: Buffer) => {
    const b = bucketOf(bucketName);
    if (!name) throw new HttpError(400, 'required', 'Required object name');
    if (retained(b.objects.get(name))) throw new HttpError(403, 'forbidden', `Object '${bucketName}/${name}' is under active Object Retention and cannot be replaced.`);
    const o: StoredObject = {
      retention: parseRetention(b, meta.retention),
      data,
      contentType: typeof meta.contentType === 'string' ? meta.contentType : 'application/octet-stream',
      storageClass: typeof meta.storageClass === 'string' ? meta.storageClass : b.storageClass,
      generation: generation++,
      created: now(),
    };
    b.objects.set(name, o);
    return objectJson(bucketName, name, o);
  };

  async function handle(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    const url = new URL(req.url ?? '/', base);
    const q = url.searchParams;
    const parts = url.pathname.split('/').filter(Boolean);
    const json = (status: number, value: unknown) => {
      const text = JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    const method = req.method ?? 'GET';

    // Resumable upload: initiation, then PUTs to the session URI.
    if (parts[0] === 'upload' && parts[1] === 'storage' && parts[3] === 'b' && parts[5] === 'o' && parts.length === 6) {
      const bucket = parts[4]!;
      const uploadType = q.get('uploadType');
      if (method === 'POST' && uploadType === 'multipart') {
        count('upload');
        const [metaPart, dataPart] = parseMultipart(body, boundaryOf(req.headers['content-type']));
        if (!metaPart || !dataPart) throw new HttpError(400, 'invalid', 'multipart body needs a metadata part and a data part');
        const meta = JSON.parse(metaPart.toString('utf8') || '{}') as Record<string, unknown>;
        return json(200, store(bucket, q.get('name') ?? String(meta.name ?? ''), meta, dataPart));
      }
      if (method === 'POST' && uploadType === 'resumable') {
        count('resumable-start');
        bucketOf(bucket);
        const meta = body.length ? (JSON.parse(body.toString('utf8')) as Record<string, unknown>) : {};
        const id = randomUUID();
        sessions.set(id, { bucket, name: q.get('name') ?? String(meta.name ?? ''), metadata: meta, chunks: [], received: 0 });
        res.writeHead(200, { location: `${base}/upload/storage/v1/b/${bucket}/o?uploadType=resumable&upload_id=${id}`, 'content-length': 0 });
        return void res.end();
      }
      if (method === 'PUT' && q.get('upload_id')) {
        count('resumable-put');
        return resumablePut(q.get('upload_id')!, String(req.headers['content-range'] ?? 'bytes */*'), body, res, json);
      }
    }

    if (parts[0] !== 'storage' || parts[1] !== 'v1' || parts[2] !== 'b') throw new HttpError(404, 'notFound', `no route for ${method} ${url.pathname}`);
    if (parts.length === 3 && method === 'POST') {
      count('bucket-insert');
      const meta = JSON.parse(body.toString('utf8') || '{}') as { name?: string; storageClass?: string; location?: string };
      if (!meta.name) throw new HttpError(400, 'required', 'Required bucket name');
      if (buckets.has(meta.name)) throw new HttpError(409, 'conflict', 'Your previous request to create the named bucket succeeded and you already own it.');
      addBucket(meta.name, meta.storageClass ?? 'STANDARD', meta.location?.toUpperCase() ?? 'US', q.get('enableObjectRetention') === 'true');
      return json(200, bucketJson(bucketOf(meta.name)));
    }
    const bucket = parts[3];
    if (!bucket) throw new HttpError(404, 'notFound', 'no bucket in path');
    if (parts.length === 4 && method === 'GET') {
      count('bucket-get');
      return json(200, bucketJson(bucketOf(bucket)));
    }
    if (parts.length === 5 && parts[4] === 'o' && method === 'GET') {
      count('list');
      const b = bucketOf(bucket);
      const prefix = q.get('prefix') ?? '';
      const max = Math.max(1, Math.min(1000, Number(q.get('maxResults') ?? 1000) || 1000));
      const after = q.get('pageToken') ? Buffer.from(q.get('pageToken')!, 'base64url').toString('utf8') : null;
      const names = [...b.objects.keys()].filter((n) => n.startsWith(prefix) && (after === null || n > after)).sort();
      const page = names.slice(0, max);
      const out: Record<string, unknown> = { kind: 'storage#objects', items: page.map((n) => objectJson(bucket, n, b.objects.get(n)!)) };
      if (names.length > max) out.nextPageToken = Buffer.from(page[page.length - 1]!, 'utf8').toString('base64url');
      return json(200, out);
    }
    if (parts.length >= 6 && parts[4] === 'o') {
      const name = decodeURIComponent(parts.slice(5).join('/'));
      const b = bucketOf(bucket);
      const o = b.objects.get(name);
      if (method === 'DELETE') {
        count('delete');
        if (!o) throw new HttpError(404, 'notFound', `No such object: ${bucket}/${name}`);
        if (retained(o)) throw new HttpError(403, 'forbidden', `Object '${bucket}/${name}' is under active Object Retention and cannot be deleted, overwritten or archived until ${o.retention!.retainUntilTime}.`);
        b.objects.delete(name);
        res.writeHead(204);
        return void res.end();
      }
      if (method === 'PATCH') {
        count('patch');
        if (!o) throw new HttpError(404, 'notFound', `No such object: ${bucket}/${name}`);
        const patch = JSON.parse(body.toString('utf8') || '{}') as { retention?: unknown };
        if ('retention' in patch) patchRetention(o, parseRetention(b, patch.retention), q.get('overrideUnlockedRetention') === 'true');
        return json(200, objectJson(bucket, name, o));
      }
      if (method === 'GET') {
        if (!o) throw new HttpError(404, 'notFound', `No such object: ${bucket}/${name}`);
        if (q.get('alt') !== 'media') {
          count('metadata');
          return json(200, objectJson(bucket, name, o));
        }
        count('download');
        const h = hashes(o.data);
        res.writeHead(200, {
          'content-type': o.contentType,
          'content-length': o.data.length,
          'x-goog-hash': `crc32c=${h.crc32c},md5=${h.md5}`,
          'x-goog-stored-content-encoding': 'identity',
          'x-goog-generation': String(o.generation),
        });
        return void res.end(o.data);
      }
    }
    throw new HttpError(404, 'notFound', `no route for ${method} ${url.pathname}`);
  }

  function patchRetention(o: StoredObject, next: Retention | undefined, override: boolean): void {
    const cur = o.retention;
    if (cur && retained(o)) {
      const shorter = !next || Date.parse(next.retainUntilTime) < Date.parse(cur.retainUntilTime);
      const modeChange = !next || next.mode !== cur.mode;
      if (cur.mode === 'Locked' && (shorter || modeChange)) throw new HttpError(403, 'forbidden', 'A Locked object retention can only be lengthened.');
      if (cur.mode === 'Unlocked' && (shorter || modeChange) && !override && !(next?.mode === 'Locked' && !shorter)) {
        throw new HttpError(403, 'forbidden', 'Shortening, removing or changing an Unlocked object retention needs overrideUnlockedRetention=true.');
      }
    }
    o.retention = next;
  }

  function resumablePut(id: string, range: string, body: Buffer, res: ServerResponse, json: (s: number, v: unknown) => void): void {
    const s = sessions.get(id);
    if (!s) throw new HttpError(404, 'notFound', 'No such upload session');
    const m = /^bytes (\*|(\d+)-(\d+|\*))\/(\*|\d+)$/.exec(range.trim());
    if (!m) throw new HttpError(400, 'invalid', `bad Content-Range ${range}`);
    if (m[1] !== '*') {
      if (Number(m[2]) !== s.received) throw new HttpError(400, 'invalid', `chunk starts at ${m[2]}, expected ${s.received}`);
      s.chunks.push(body);
      s.received += body.length;
    }
    const total = m[4] === '*' ? null : Number(m[4]);
    // "bytes a-*/*": the body was the whole rest of the object. "bytes a-b/N": final once N bytes are in.
    const done = (m[3] === '*' && m[1] !== '*') || (total !== null && s.received >= total);
    if (!done) {
      res.writeHead(308, s.received > 0 ? { range: `bytes=0-${s.received - 1}`, 'content-length': 0 } : { 'content-length': 0 });
      return void res.end();
    }
    sessions.delete(id);
    json(200, store(s.bucket, s.name, s.metadata, Buffer.concat(s.chunks)));
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      handle(req, res, Buffer.concat(chunks)).catch((err: unknown) => {
        const e = err instanceof HttpError ? err : new HttpError(500, 'backendError', (err as Error).message);
        const text = JSON.stringify({ error: { code: e.status, message: e.message, errors: [{ message: e.message, domain: 'global', reason: e.reason }] } });
        if (!res.headersSent) res.writeHead(e.status, { 'content-type': 'application/json; charset=UTF-8', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: base,
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function boundaryOf(contentType: string | undefined): string {
  const m = /boundary="?([^";]+)"?/i.exec(contentType ?? '');
  if (!m) throw new HttpError(400, 'invalid', 'multipart upload without a boundary');
  return m[1]!;
}

/** The bodies of a multipart/related message, in order. */
function parseMultipart(body: Buffer, boundary: string): Buffer[] {
  const delim = Buffer.from(`--${boundary}`);
  const out: Buffer[] = [];
  let pos = body.indexOf(delim);
  while (pos !== -1) {
    let start = pos + delim.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing "--boundary--"
    if (body[start] === 0x0d && body[start + 1] === 0x0a) start += 2;
    const next = body.indexOf(delim, start);
    if (next === -1) break;
    const end = body[next - 2] === 0x0d && body[next - 1] === 0x0a ? next - 2 : next;
    const part = body.subarray(start, end);
    const sep = part.indexOf('\r\n\r\n');
    out.push(sep === -1 ? Buffer.alloc(0) : part.subarray(sep + 4));
    pos = next;
  }
  return out;
}
