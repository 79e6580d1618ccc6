/**
 * The request layer against the real console (`node bin/start.mjs`, signed in as the admin): cross-origin
 * mutations refused, only JSON for tRPC mutations, a GET on a mutation is a 405, a 10 MB body refused
 * without the server's memory growing, NUL and lone surrogates refused before anything is written, the
 * streamed upload route (round trip, names, size limit and its temp file), health signed out, bounded
 * offsets (tRPC and CLI) without SQL. Plus the pure pieces (origin rules, text rules, error mapping).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TRPCError } from '@trpc/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorMessage } from '../../server/cli/output';
import { checkMutationRequest } from '../../server/http/request-guard';
import { findUnsafeText, uploadNameProblem } from '../../server/http/text-rules';
import { GENERIC_MESSAGE, mapError } from '../../server/trpc/errors';
import type { Browser, Page } from 'playwright-core';
import { cookieHeader, launchChromium, shot, signInAt } from '../e2e/browser';
import { type ConsoleServer, startConsole } from '../e2e/console-server';
import { runCli } from '../support/cli';

const MAX_UPLOAD_MB = 8;
const SQL_WORDS = /\b(select|from "|offset \$|failed query|params:)/i;

let server: ConsoleServer;
let browser: Browser;
let page: Page;
let cookie = '';
let uploadTmp = '';
const savedEnv = { TMPDIR: process.env.TMPDIR, PLEXICHAT_MAX_UPLOAD_MB: process.env.PLEXICHAT_MAX_UPLOAD_MB };

interface Raw {
  status: number;
  body: string;
}

/** One HTTP request with node:http, so a server that answers before reading the whole body is still heard. */
function raw(method: string, urlPath: string, headers: Record<string, string>, body?: Buffer | ((write: (b: Buffer) => boolean) => Promise<void>)): Promise<Raw> {
  const url = new URL(urlPath, server.url);
  return new Promise((resolve, reject) => {
    let answered = false;
    const req = httpRequest({ method, hostname: url.hostname, port: url.port, path: url.pathname + url.search, headers }, (res) => {
      answered = true;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (typeof body === 'function') {
      void body((b) => req.write(b))
        .then(() => req.end())
        .catch(() => undefined);
    } else req.end(body);
  });
}

const same = () => ({ origin: server.url, cookie, 'sec-fetch-site': 'same-origin' });

async function trpcMutation(proc: string, input: unknown): Promise<{ status: number; json: { result?: { data: unknown }; error?: { message: string; data: { code: string } } } }> {
  const res = await fetch(`${server.url}/api/trpc/${proc}`, { method: 'POST', headers: { ...same(), 'content-type': 'application/json' }, body: JSON.stringify(input) });
  return { status: res.status, json: (await res.json()) as never };
}

async function trpcQuery<T>(proc: string, input?: unknown): Promise<{ status: number; data: T; error?: { message: string } }> {
  const q = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
  const res = await fetch(`${server.url}/api/trpc/${proc}${q}`, { headers: { cookie } });
  const json = (await res.json()) as { result?: { data: T }; error?: { message: string } };
  return { status: res.status, data: json.result?.data as T, error: json.error };
}

/** Rows a refused request must not leave: backups and data keys. */
async function rowCounts(): Promise<{ backups: number; keys: number; audit: number }> {
  const list = await trpcQuery<{ total: number }>('backup.list', { limit: 1, offset: 0, backupType: undefined });
  const keys = await trpcQuery<{ data_keys_by_master: Record<string, number> }>('keys.status');
  const audit = await trpcQuery<{ total: number }>('audit.list', { limit: 1 });
  expect(list.status).toBe(200);
  expect(keys.status).toBe(200);
  return { backups: list.data.total, keys: Object.values(keys.data.data_keys_by_master).reduce((a, b) => a + b, 0), audit: audit.data.total };
}

/** Resident memory of the console's processes (start.mjs and the Next server; not the catalog daemon), in bytes. */
async function serverRss(): Promise<number> {
  const dataDir = path.join(server.dir, 'data');
  let total = 0;
  for (const pid of await readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const env = await readFile(`/proc/${pid}/environ`, 'utf8');
      if (!env.split('\0').includes(`PLEXICHAT_DATA_DIR=${dataDir}`)) continue;
      const cmd = await readFile(`/proc/${pid}/cmdline`, 'utf8');
      if (cmd.includes('catalog')) continue;
      const status = await readFile(`/proc/${pid}/status`, 'utf8');
      total += Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    } catch {
      // gone, or not ours
    }
  }
  return total;
}

async function waitBackup(id: string): Promise<string> {
  for (let i = 0; i < 240; i++) {
    const p = await trpcQuery<{ status: string } | null>('backup.progress', { backupId: id });
    if (p.data && p.data.status !== 'running' && p.data.status !== 'pending') return p.data.status;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`backup ${id} did not finish`);
}

const uploadDirs = async () => (await readdir(uploadTmp)).filter((n) => n.startsWith('plexichat-upload-'));

describe('request layer (real console)', () => {
  beforeAll(async () => {
    // The console's temporary files go to a directory of ours, so a test can see an upload's temp dir go.
    uploadTmp = await mkdtemp(path.join(tmpdir(), 'px-req-tmp-'));
    process.env.TMPDIR = uploadTmp;
    process.env.PLEXICHAT_MAX_UPLOAD_MB = String(MAX_UPLOAD_MB);
    server = await startConsole();
    browser = await launchChromium();
    const ctx = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 } });
    page = await ctx.newPage();
    await signInAt(page, '/backups', server.admin, server.log);
    cookie = await cookieHeader(ctx);
    expect(cookie).toMatch(/session-token/);
  }, 400_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
    process.env.TMPDIR = savedEnv.TMPDIR;
    if (savedEnv.PLEXICHAT_MAX_UPLOAD_MB === undefined) delete process.env.PLEXICHAT_MAX_UPLOAD_MB;
    if (uploadTmp) await rm(uploadTmp, { recursive: true, force: true });
  }, 60_000);

  it('refuses a cross-origin multipart POST to a mutation with the admin cookie (403) and changes nothing', async () => {
    const before = await rowCounts();
    for (const proc of ['alerts.resetSettings', 'alerts.sendTest']) {
      const form = new FormData();
      form.set('x', '1');
      const res = await fetch(`${server.url}/api/trpc/${proc}`, { method: 'POST', headers: { cookie, origin: 'http://evil.example', 'sec-fetch-site': 'cross-site' }, body: form });
      expect(res.status, proc).toBe(403);
    }
    // The same without Origin but marked cross-site by the browser; and a JSON body from another origin.
    const noOrigin = await fetch(`${server.url}/api/trpc/alerts.resetSettings`, { method: 'POST', headers: { cookie, 'sec-fetch-site': 'cross-site', 'content-type': 'application/json' }, body: '{}' });
    expect(noOrigin.status).toBe(403);
    const json = await fetch(`${server.url}/api/trpc/backup.create`, {
      method: 'POST',
      headers: { cookie, origin: 'http://127.0.0.1.evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ source: { kind: 'text', name: 'x.txt', text: 'x' } }),
    });
    expect(json.status).toBe(403);
    // A forged upload (route handler) is refused the same way.
    const upload = await fetch(`${server.url}/api/backups/upload?name=x.bin`, { method: 'POST', headers: { cookie, origin: 'null', 'content-type': 'application/octet-stream' }, body: 'x' });
    expect(upload.status).toBe(403);
    expect(await rowCounts()).toEqual(before); // no backup, no key, not even an audit event
  });

  it('accepts only application/json for tRPC mutations (415) and refuses a GET on a mutation (405)', async () => {
    const text = await fetch(`${server.url}/api/trpc/alerts.sendTest`, { method: 'POST', headers: { ...same(), 'content-type': 'text/plain' }, body: '{}' });
    expect(text.status).toBe(415);
    const none = await fetch(`${server.url}/api/trpc/alerts.sendTest`, { method: 'POST', headers: same(), body: new Uint8Array([123, 125]) });
    expect(none.status).toBe(415);
    const get = await fetch(`${server.url}/api/trpc/alerts.resetSettings`, { headers: { cookie } });
    expect(get.status).toBe(405);
    const batch = await fetch(`${server.url}/api/trpc/backup.list,alerts.resetSettings?batch=1&input=${encodeURIComponent('{}')}`, { headers: { cookie } });
    expect(batch.status).toBe(405);
    const upload = await fetch(`${server.url}/api/backups/upload?name=x.bin`, { method: 'POST', headers: { ...same(), 'content-type': 'multipart/form-data; boundary=x' }, body: '--x--' });
    expect(upload.status).toBe(415);
    // A query still works by GET, and a same-origin JSON mutation still runs.
    expect((await trpcQuery('backup.list', {})).status).toBe(200);
  });

  it('refuses a 10 MB JSON body (413) without the server memory growing by 50 MB', async () => {
    const before = await serverRss();
    const big = Buffer.from(JSON.stringify({ source: { kind: 'text', name: 'big.txt', text: 'a'.repeat(10 * 1024 * 1024) } }));
    const declared = await raw('POST', '/api/trpc/backup.create', { ...same(), 'content-type': 'application/json', 'content-length': String(big.length) }, big);
    expect(declared.status).toBe(413);
    // Without Content-Length (chunked): counted while it streams, abandoned after 1 MiB.
    const chunked = await raw('POST', '/api/trpc/backup.create', { ...same(), 'content-type': 'application/json' }, async (write) => {
      for (let at = 0; at < big.length; at += 256 * 1024) {
        if (!write(big.subarray(at, at + 256 * 1024))) await new Promise((r) => setTimeout(r, 5));
      }
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.message).toMatch(/larger than 1 MiB/);
    await new Promise((r) => setTimeout(r, 1000));
    const after = await serverRss();
    console.log(`[requests] console RSS before ${(before / 2 ** 20).toFixed(1)} MiB, after two 10 MB bodies ${(after / 2 ** 20).toFixed(1)} MiB`);
    expect(before).toBeGreaterThan(0);
    expect(after - before).toBeLessThan(50 * 1024 * 1024);
  });

  it('refuses NUL in a tag with a 400 naming the field, leaving no backup row and no key row', async () => {
    const before = await rowCounts();
    const r = await trpcMutation('backup.create', { source: { kind: 'text', name: 'n.txt', text: 'hello' }, tags: ['ok', 'bad\u0000tag'] });
    expect(r.status).toBe(400);
    expect(r.json.error?.message).toMatch(/tags\[1\].*NUL/);
    const after = await rowCounts();
    expect({ backups: after.backups, keys: after.keys }).toEqual({ backups: before.backups, keys: before.keys });
  });

  it('refuses a lone surrogate likewise, and a control character in a name', async () => {
    const before = await rowCounts();
    const body = `{"source":{"kind":"text","name":"s.txt","text":"x"},"tags":["\\ud800"]}`; // a lone high surrogate, as JSON escapes it
    const res = await fetch(`${server.url}/api/trpc/backup.create`, { method: 'POST', headers: { ...same(), 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/tags\[0\].*surrogate/);
    const ctl = await trpcMutation('backup.create', { source: { kind: 'text', name: 'a\u001bb.txt', text: 'x' } });
    expect(ctl.status).toBe(400);
    expect(ctl.json.error?.message).toMatch(/source\.name.*U\+001B/);
    const after = await rowCounts();
    expect({ backups: after.backups, keys: after.keys }).toEqual({ backups: before.backups, keys: before.keys });
  });

  it('streams an upload of a few MB to a backup that restores byte for byte, and removes its temp dir', async () => {
    const data = randomBytes(3 * 1024 * 1024 + 123);
    const res = await fetch(`${server.url}/api/backups/upload?name=${encodeURIComponent('chat export é.bin')}&tags=upload,e2e&retentionDays=7`, {
      method: 'POST',
      headers: { ...same(), 'content-type': 'application/octet-stream' },
      body: data,
    });
    expect(res.status).toBe(200);
    const { backup_id } = (await res.json()) as { backup_id: string };
    expect(await waitBackup(backup_id)).toBe('completed');
    const b = await trpcQuery<{ tags: string[]; metadata: Record<string, unknown>; retention_days: number }>('backup.get', { backupId: backup_id });
    expect(b.data.tags).toEqual(['upload', 'e2e']);
    expect(b.data.metadata).toMatchObject({ upload: 'chat export é.bin', via: 'console', created_by: server.admin.email });
    const file = await fetch(`${server.url}/api/backups/${encodeURIComponent(backup_id)}/file?path=${encodeURIComponent('chat export é.bin')}`, { headers: { cookie } });
    expect(file.status).toBe(200);
    expect(Buffer.from(await file.arrayBuffer()).equals(data)).toBe(true);
    await expect.poll(uploadDirs, { timeout: 10_000 }).toEqual([]);
  });

  it('uploads from the console’s upload tab through the streaming route', async () => {
    const data = randomBytes(1024 * 1024 + 7);
    await page.goto('/backups/new');
    await page.getByRole('tab', { name: 'Upload a file' }).click();
    await page.locator('input[type="file"]').setInputFiles({ name: 'from-the-form.bin', mimeType: 'application/octet-stream', buffer: data });
    await page.getByLabel('Tags').fill('form-upload');
    await shot(page, 'new-backup-upload-tab');
    const sent = page.waitForRequest((r) => r.url().includes('/api/backups/upload'));
    await page.getByRole('button', { name: 'Start backup' }).click();
    const req = await sent;
    expect(req.headers()['content-type']).toBe('application/octet-stream');
    expect(new URL(req.url()).searchParams.get('name')).toBe('from-the-form.bin');
    await page.locator('[data-testid="progress"][data-status="completed"]').waitFor({ timeout: 120_000 });
    await page.getByRole('link', { name: 'Open backup details' }).click();
    await page.waitForURL(/\/backups\/backup_/);
    const id = decodeURIComponent(new URL(page.url()).pathname.split('/').pop()!);
    const file = await fetch(`${server.url}/api/backups/${encodeURIComponent(id)}/file?path=from-the-form.bin`, { headers: { cookie } });
    expect(Buffer.from(await file.arrayBuffer()).equals(data)).toBe(true);
  });

  it('refuses upload names that are paths or hold control characters (400 naming the rule)', async () => {
    for (const [name, rule] of [
      ['../x', /"\/"/],
      ['/x', /"\/"/],
      ['a\\b', /"\\"/],
      ['..', /"\.\."/],
      ['a\u0000b', /NUL/],
      ['a\u0007b', /control character/],
    ] as const) {
      const res = await fetch(`${server.url}/api/backups/upload?name=${encodeURIComponent(name)}`, { method: 'POST', headers: { ...same(), 'content-type': 'application/octet-stream' }, body: 'x' });
      expect(res.status, name).toBe(400);
      expect(((await res.json()) as { error: { message: string } }).error.message, name).toMatch(rule);
    }
    expect(await uploadDirs()).toEqual([]);
  });

  it('refuses an upload over max_upload_mb (413) and removes its temp file', async () => {
    const before = await rowCounts();
    const over = (MAX_UPLOAD_MB + 1) * 1024 * 1024;
    const declared = await raw('POST', '/api/backups/upload?name=big.bin', { ...same(), 'content-type': 'application/octet-stream', 'content-length': String(over) }, Buffer.alloc(over));
    expect(declared.status).toBe(413);
    // Chunked: written to the temp file until it passes the limit, then refused and removed.
    const chunk = Buffer.alloc(512 * 1024, 7);
    const chunked = await raw('POST', '/api/backups/upload?name=big.bin', { ...same(), 'content-type': 'application/octet-stream' }, async (write) => {
      for (let sent = 0; sent < over; sent += chunk.length) {
        if (!write(chunk)) await new Promise((r) => setTimeout(r, 5));
      }
    });
    expect(chunked.status).toBe(413);
    expect(JSON.parse(chunked.body).error.message).toMatch(/max_upload_mb \(8 MiB\)/);
    await expect.poll(uploadDirs, { timeout: 10_000 }).toEqual([]);
    const after = await rowCounts();
    expect({ backups: after.backups, keys: after.keys }).toEqual({ backups: before.backups, keys: before.keys });
  });

  it('says only the status on /api/health when signed out; details when signed in', async () => {
    const out = await fetch(`${server.url}/api/health`);
    expect(out.status).toBe(200);
    expect(await out.json()).toEqual({ status: 'ok' });
    const signedIn = (await (await fetch(`${server.url}/api/health`, { headers: { cookie } })).json()) as { status: string; storage: { name: string; type: string }[] };
    expect(signedIn.status).toBe('ok');
    expect(signedIn.storage.map((s) => s.type)).toEqual(['local', 'local']);
  });

  it('answers a huge list offset with a clear 400 (tRPC) and exit 2 (CLI), never SQL', async () => {
    for (const offset of ['99999999999999999999', '2000000000']) {
      const res = await fetch(`${server.url}/api/trpc/backup.list?input=${encodeURIComponent(`{"offset":${offset}}`)}`, { headers: { cookie } });
      const text = await res.text();
      expect(res.status, offset).toBe(400);
      expect(text).toMatch(/offset/);
      expect(text).not.toMatch(SQL_WORDS);
    }
    const env = { ...process.env, PLEXICHAT_DATA_DIR: path.join(server.dir, 'data'), PLEXICHAT_ENCRYPTION_KEY: server.secrets[1] };
    const cli = await runCli(['list', '--offset', '99999999999999999999', '--json'], env);
    expect(cli.code).toBe(2);
    expect(cli.stdout + cli.stderr).toMatch(/--offset must be a whole number/);
    expect(cli.stdout + cli.stderr).not.toMatch(SQL_WORDS);
  });
});

describe('request layer (pure pieces)', () => {
  const post = (headers: Record<string, string>) => new Request('http://127.0.0.1:3000/api/trpc/x', { method: 'POST', headers, body: '{}' });
  const opts = { contentTypes: ['application/json'], publicUrl: 'https://backup.example.com' };

  it('accepts the request’s own origin and public_url’s, and nothing else', () => {
    const ok = (h: Record<string, string>) => checkMutationRequest(post({ 'content-type': 'application/json; charset=utf-8', ...h }), opts)?.status ?? 200;
    expect(ok({ host: '127.0.0.1:3000', origin: 'http://127.0.0.1:3000' })).toBe(200);
    expect(ok({ host: 'internal:3000', origin: 'https://backup.example.com' })).toBe(200); // behind a reverse proxy
    expect(ok({ host: 'internal:3000' })).toBe(200); // a non-browser client (no Origin, no Sec-Fetch-Site)
    expect(ok({ host: 'internal:3000', origin: 'https://evil.example' })).toBe(403);
    expect(ok({ host: 'internal:3000', origin: 'https://backup.example.com.evil.example' })).toBe(403);
    expect(ok({ host: 'internal:3000', origin: 'null' })).toBe(403);
    expect(ok({ host: 'internal:3000', 'sec-fetch-site': 'same-site' })).toBe(403);
    expect(ok({ host: 'internal:3000', origin: 'https://backup.example.com', 'sec-fetch-site': 'cross-site' })).toBe(403);
    expect(checkMutationRequest(new Request('http://h/x', { method: 'GET' }), opts)?.status).toBe(405);
  });

  it('finds NUL, lone surrogates and control characters anywhere in an input, naming the field', () => {
    expect(findUnsafeText({ a: ['x', { b: 'ok\ttab\r\n' }] })).toBeNull();
    expect(findUnsafeText({ source: { paths: ['/a', '/b\u0000'] } })?.path).toBe('source.paths[1]');
    expect(findUnsafeText({ name: 'x\uDC00' })?.reason).toMatch(/surrogate/);
    expect(findUnsafeText({ name: '😀' })).toBeNull(); // a proper surrogate pair
    expect(findUnsafeText({ name: 'a\u0085b' })?.reason).toMatch(/U\+0085/);
    expect(findUnsafeText({ ['k\u0000']: 1 })?.reason).toMatch(/key/);
    let deep: unknown = 'x';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(findUnsafeText(deep)?.reason).toMatch(/nested/); // no stack overflow
    expect(uploadNameProblem('report.pdf')).toBeNull();
    expect(uploadNameProblem(null)).toMatch(/required/);
  });

  it('never shows a driver error or a query to a user', () => {
    const drizzle = Object.assign(new Error('Failed query: select "id" from "backups" offset $1\nparams: 99999999999999999999'), { cause: Object.assign(new Error('value out of range for type bigint'), { code: '22003', severity: 'ERROR' }) });
    for (const code of ['INTERNAL_SERVER_ERROR', 'BAD_REQUEST', 'CONFLICT'] as const) {
      expect(mapError(new TRPCError({ code, cause: drizzle, message: drizzle.message }))).toEqual({ key: 'INTERNAL_SERVER_ERROR', message: GENERIC_MESSAGE, unexpected: true });
    }
    const cli = errorMessage(drizzle);
    expect(cli).toMatch(/error id [0-9a-f]{8}/);
    expect(cli).not.toMatch(SQL_WORDS);
    expect(errorMessage(new Error('ENOENT: no such file'))).toBe('ENOENT: no such file');
  });
});
