#!/usr/bin/env node
// The console's HTTP server (run by bin/start.mjs in place of `next start`): Next.js behind node:http, so
// that sign-in knows the client's real address. `next start` only copies the socket peer into
// X-Forwarded-For when the client sent none, so a client could name any address. Here every request gets
// `x-plexichat-peer: <token> <peer>`, any client-sent copy removed first; the token is random per process
// and known only through globalThis, so server/auth/client-address.ts ignores the header under any other
// server. X-Forwarded-For is then believed only from `trusted_proxies`.
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import next from 'next';

const PEER_HEADER = 'x-plexichat-peer'; // server/auth/client-address.ts PEER_HEADER
const token = randomBytes(18).toString('base64url');
globalThis[Symbol.for('plexichat.peerToken')] = token;

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const port = Number(process.env.PORT || 3000);
// Only this machine by default: set HOST=0.0.0.0 (or an address) to serve others, ideally behind a TLS proxy.
const host = process.env.HOST || '127.0.0.1';
const app = next({ dev: false, dir: root, port, hostname: host });
const handle = app.getRequestHandler();
await app.prepare();

const server = createServer((req, res) => {
  delete req.headers[PEER_HEADER];
  req.headers[PEER_HEADER] = `${token} ${req.socket.remoteAddress ?? ''}`;
  handle(req, res).catch((err) => {
    console.error(`[server] ${req.method} ${req.url?.split('?')[0]}: ${err?.message ?? err}`);
    if (!res.headersSent) res.writeHead(500).end();
  });
});
server.on('error', (err) => {
  console.error(`[server] cannot listen on ${host} port ${port}: ${err.message} (set PORT to another port or HOST to another address, or stop what uses it)`);
  process.exit(1);
});
server.listen(port, host, () => console.log(`[server] listening on ${host} port ${port}`));

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 5_000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
