/**
 * A fault-injecting HTTP proxy to put in front of a storage server (Kopia's faulty storage, at the protocol
 * level): a share of requests answered 503 without reaching the server, added latency, a "stop" switch that
 * refuses connections, a "hang" switch that accepts requests and never answers, and an intercept hook to
 * answer chosen requests itself (e.g. an archive-tier error the test server cannot produce).
 */
import { Agent, createServer, request, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface InterceptedResponse {
  status: number;
  headers?: OutgoingHttpHeaders;
  body?: string | Buffer;
}

export interface FaultSettings {
  /** Share of requests (0–1) answered 503 without being forwarded. */
  failureRate: number;
  /**
   * At most this many injected failures in a row for the same request (method + URL), so a bounded retry
   * policy can always get through: with a seeded sequence, a lone retrying request would otherwise meet
   * whatever run of failures the sequence holds.
   */
  maxConsecutiveFailures: number;
  /** Delay before each request is forwarded or failed. */
  latencyMs: number;
  /** Accept requests but never answer them. */
  hang: boolean;
  /** Answer a request itself instead of forwarding it (return undefined to forward). */
  intercept?: (req: { method: string; url: string; headers: IncomingHttpHeaders; body: Buffer }) => InterceptedResponse | undefined;
}

export interface FaultProxy {
  url: string;
  stats: { requests: number; injected: number; forwarded: number; intercepted: number };
  set(settings: Partial<FaultSettings>): void;
  /** Stop listening and drop open connections: new connections are refused. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
  close(): Promise<void>;
}

const UNAVAILABLE_BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code><Message>Injected fault: service unavailable, please retry</Message></Error>';

/** A deterministic PRNG (mulberry32) so fault sequences repeat from run to run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function startFaultProxy(target: string, initial: Partial<FaultSettings> = {}, random: () => number = seededRandom(1)): Promise<FaultProxy> {
  const upstream = new URL(target);
  const settings: FaultSettings = { failureRate: 0, maxConsecutiveFailures: Infinity, latencyMs: 0, hang: false, ...initial };
  const streaks = new Map<string, number>();
  const stats = { requests: 0, injected: 0, forwarded: 0, intercepted: 0 };
  const agent = new Agent({ keepAlive: true });
  const sockets = new Set<Socket>();

  const onRequest = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    stats.requests++;
    if (settings.latencyMs > 0) await new Promise((r) => setTimeout(r, settings.latencyMs));
    if (settings.hang) return;
    const own = settings.intercept?.({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body });
    if (own) {
      stats.intercepted++;
      const payload = own.body ?? '';
      res.writeHead(own.status, { 'content-length': Buffer.byteLength(payload), ...own.headers });
      return void res.end(payload);
    }
    const id = `${req.method} ${req.url}`;
    const streak = streaks.get(id) ?? 0;
    if (random() < settings.failureRate && streak < settings.maxConsecutiveFailures) {
      streaks.set(id, streak + 1);
      stats.injected++;
      res.writeHead(503, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(UNAVAILABLE_BODY), 'x-ms-error-code': 'ServerBusy' });
      return void res.end(UNAVAILABLE_BODY);
    }
    streaks.delete(id);
    stats.forwarded++;
    const out = request(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers, agent },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    out.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`proxy: upstream failed: ${err.message}`);
    });
    out.end(body);
  };

  const server = createServer((req, res) => void onRequest(req, res).catch(() => res.destroy()));
  server.on('connection', (s) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => server.once('error', reject).listen(port, '127.0.0.1', () => (server.off('error', reject), resolve())));
  const stop = () =>
    new Promise<void>((resolve) => {
      if (!server.listening) return resolve();
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });

  await listen(0);
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    set: (s) => Object.assign(settings, s),
    stop,
    start: () => (server.listening ? Promise.resolve() : listen(port)),
    close: async () => {
      await stop();
      agent.destroy();
    },
  };
}
