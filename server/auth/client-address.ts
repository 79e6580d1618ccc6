/**
 * Which client is signing in. The socket peer is the only address nobody can fake; `X-Forwarded-For` is
 * believed only when that peer is one of `trusted_proxies`, and then only up to the first hop that is not a
 * trusted proxy (walked right to left: every proxy appends the address it saw, a client can only prepend).
 *
 * `next start` does not expose the peer to route handlers (it fills `X-Forwarded-For` with it only when the
 * client sent none), so bin/server.mjs, the console's HTTP server, replaces any client-sent PEER_HEADER with
 * "<token> <peer address>". The token is random per process and lives on globalThis: a header a client
 * sends through another server (`next dev`, a bare `next start`) never carries it and is ignored.
 */
import { BlockList, isIP } from 'node:net';

export const PEER_HEADER = 'x-plexichat-peer';
const TOKEN_KEY = Symbol.for('plexichat.peerToken');

/** The peer address set by bin/server.mjs, or null when this process was not started by it. */
export function peerFromHeaders(headers: Headers): string | null {
  const token = (globalThis as Record<symbol, unknown>)[TOKEN_KEY];
  const value = headers.get(PEER_HEADER);
  if (typeof token !== 'string' || !token || !value) return null;
  const [got, address] = value.split(' ');
  return got === token && address ? normalizeAddress(address) : null;
}

/** "::ffff:10.0.0.1" → "10.0.0.1"; "[::1]:443" → "::1"; "10.0.0.1:80" → "10.0.0.1"; anything else → null. */
export function normalizeAddress(raw: string): string | null {
  let a = raw.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(a);
  if (bracketed) a = bracketed[1]!;
  else if (/^[\d.]+:\d+$/.test(a)) a = a.slice(0, a.lastIndexOf(':'));
  a = a.replace(/%.*$/, ''); // zone id
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a);
  if (mapped) a = mapped[1]!;
  return isIP(a) ? a.toLowerCase() : null;
}

export function trustedProxies(cidrs: readonly string[]): BlockList {
  const list = new BlockList();
  for (const c of cidrs) {
    const [addr, bits] = c.split('/');
    const type = isIP(addr ?? '') === 6 ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(addr!, type);
    else list.addSubnet(addr!, Number(bits), type);
  }
  return list;
}

const inList = (list: BlockList, a: string) => list.check(a, isIP(a) === 6 ? 'ipv6' : 'ipv4');

/** The client's address: the peer, or the nearest untrusted hop of X-Forwarded-For when the peer is a trusted proxy. */
export function clientAddress(peer: string | null, forwardedFor: string | null, trusted: BlockList | readonly string[]): string | null {
  const list = trusted instanceof BlockList ? trusted : trustedProxies(trusted);
  let current = peer ? normalizeAddress(peer) : null;
  if (!current || !forwardedFor) return current;
  const hops = forwardedFor.split(',');
  for (let i = hops.length - 1; i >= 0 && inList(list, current); i--) {
    const hop = normalizeAddress(hops[i]!);
    if (!hop) break; // a malformed entry: keep the last address a trusted proxy vouched for
    current = hop;
  }
  return current;
}

/**
 * The key a client is throttled under: IPv4 addresses as they are, IPv6 by /64 (one subscriber usually
 * holds a whole /64, so counting single addresses would give an attacker 2^64 fresh budgets).
 */
export function clientKey(address: string | null): string {
  if (!address) return 'unknown';
  if (isIP(address) !== 6) return address;
  const [head = '', tail = ''] = address.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  if (t.some((x) => x.includes('.'))) t.splice(-1, 1, '0', '0'); // embedded IPv4 in the low bits
  const groups = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h;
  return `${groups
    .slice(0, 4)
    .map((g) => parseInt(g || '0', 16).toString(16))
    .join(':')}::/64`;
}
