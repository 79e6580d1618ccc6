/**
 * The MAXIMUM key-holder quorum: an X25519 key pair whose public half wraps MAXIMUM data keys (so backups run
 * unattended) and whose private half exists only as k-of-n shares held by people. A restore, download,
 * browse, verify --read-data or recover-catalog of MAXIMUM data reassembles it from k shares for that one
 * operation (AsyncLocalStorage: it lives in the operation's async context, never in the catalog, a file or
 * the key ring's cache).
 *
 * Sharing is combinatorial (replicated) k-of-n over XOR — no new field arithmetic, only XOR and
 * node:crypto: for every k-subset S of the n holders, the secret is split into k random XOR pieces, one
 * per member of S. A holder's share holds its piece of each subset it belongs to (C(n-1, k-1) pieces of
 * 32 bytes). Any k holders form a subset and XOR their pieces back into the secret; k-1 holders lack a piece
 * of every subset, and each piece alone is uniformly random, so they learn nothing. Share size grows as
 * C(n-1, k-1), hence n ≤ 9 (at most 70 pieces, ~3 KiB per share).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { KeyObject } from 'node:crypto';
import { createCipheriv, createDecipheriv, createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { EngineError } from '../errors';

export const MAX_HOLDERS = 9;
const SHARE_PREFIX = 'plexichat-share-v1:';
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

/** The public record of a quorum, kept in the catalog (settings key `quorum`). */
export interface QuorumRecord {
  id: string;
  public_key: string; // base64, raw 32 bytes
  threshold: number;
  holders: number;
  created_at: string;
  /** HMAC under the repository's id key: a catalog writer cannot swap in a public key of their own. */
  mac: string;
}

export interface QuorumKey {
  id: string;
  privateKey: Buffer;
}

export const quorumId = (pub: Buffer) => `qk-${createHash('sha256').update(pub).digest('hex').slice(0, 16)}`;

export function quorumMac(idKey: Buffer, r: Omit<QuorumRecord, 'mac'>): string {
  return createHmac('sha256', idKey).update(`quorum:${r.id}:${r.public_key}:${r.threshold}:${r.holders}`).digest('hex');
}

export function checkQuorumRecord(idKey: Buffer, r: QuorumRecord): void {
  const want = Buffer.from(quorumMac(idKey, r), 'hex');
  const got = Buffer.from(r.mac ?? '', 'hex');
  if (want.length !== got.length || !timingSafeEqual(want, got) || quorumId(Buffer.from(r.public_key, 'base64')) !== r.id) {
    throw new EngineError('INTEGRITY', 'The MAXIMUM quorum record in the catalog does not authenticate under this repository\'s keys (it was altered): MAXIMUM backups are refused until "plexichat-backup keys quorum init" creates a new quorum.');
  }
}

const rawPublic = (priv: Buffer) => createPublicKey(createPrivateKey({ key: Buffer.concat([PKCS8_X25519, priv]), format: 'der', type: 'pkcs8' })).export({ type: 'spki', format: 'der' }).subarray(-32);

/** All k-subsets of 1..n, in lexicographic order (the order pieces are stored in). */
export function subsets(n: number, k: number): number[][] {
  const out: number[][] = [];
  const walk = (start: number, cur: number[]) => {
    if (cur.length === k) return void out.push([...cur]);
    for (let i = start; i <= n; i++) walk(i + 1, [...cur, i]);
  };
  walk(1, []);
  return out;
}

const xor = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]!));

interface ShareDoc {
  q: string;
  pub: string;
  k: number;
  n: number;
  i: number;
  p: string[];
}

/** Splits a 32-byte secret into n share texts, any k of which reassemble it. */
export function splitSecret(secret: Buffer, pub: Buffer, k: number, n: number): string[] {
  if (!Number.isInteger(n) || n < 2 || n > MAX_HOLDERS) throw new EngineError('INVALID', `A quorum has from 2 to ${MAX_HOLDERS} key holders (got ${n}).`);
  if (!Number.isInteger(k) || k < 2 || k > n) throw new EngineError('INVALID', `The threshold must be from 2 to the number of holders (${n}); got ${k}.`);
  const pieces: string[][] = Array.from({ length: n }, () => []);
  for (const s of subsets(n, k)) {
    let last = secret;
    for (const member of s.slice(0, -1)) {
      const r = randomBytes(32);
      last = xor(last, r);
      pieces[member - 1]!.push(r.toString('base64'));
    }
    pieces[s[s.length - 1]! - 1]!.push(last.toString('base64'));
  }
  const q = quorumId(pub);
  return pieces.map((p, idx) => SHARE_PREFIX + Buffer.from(JSON.stringify({ q, pub: pub.toString('base64'), k, n, i: idx + 1, p } satisfies ShareDoc)).toString('base64url'));
}

function parseShare(text: string, n: number): ShareDoc {
  const t = text.trim();
  const bad = () => new EngineError('INVALID', `Share ${n} is not a PlexiChat quorum share (it should start with "${SHARE_PREFIX}"; copy the whole line the holder was given).`);
  if (!t.startsWith(SHARE_PREFIX)) throw bad();
  try {
    const d = JSON.parse(Buffer.from(t.slice(SHARE_PREFIX.length), 'base64url').toString('utf8')) as ShareDoc;
    if (typeof d.q !== 'string' || !Array.isArray(d.p) || !Number.isInteger(d.i) || !Number.isInteger(d.k) || !Number.isInteger(d.n)) throw new Error('fields');
    return d;
  } catch {
    throw bad();
  }
}

/** Reassembles the quorum's private key from k or more shares; every failure says what is missing or wrong. */
export function combineShares(texts: string[]): QuorumKey {
  if (!texts.length) throw new EngineError('INVALID', 'No quorum share was given.');
  const docs = texts.map((t, i) => parseShare(t, i + 1));
  const first = docs[0]!;
  if (docs.some((d) => d.q !== first.q)) throw new EngineError('INVALID', `The shares belong to different quorums (${[...new Set(docs.map((d) => d.q))].join(', ')}); give shares of one quorum.`);
  const byHolder = new Map(docs.map((d) => [d.i, d]));
  if (byHolder.size < first.k) {
    throw new EngineError('INVALID', `Quorum ${first.q} needs ${first.k} shares of different key holders (of ${first.n}); only ${byHolder.size} given. Ask ${first.k - byHolder.size} more holder(s) for their share.`);
  }
  const members = [...byHolder.keys()].sort((a, b) => a - b).slice(0, first.k);
  const all = subsets(first.n, first.k);
  const target = members.join(',');
  let secret = Buffer.alloc(32);
  for (const m of members) {
    const mine = all.filter((s) => s.includes(m));
    const idx = mine.findIndex((s) => s.join(',') === target);
    const piece = byHolder.get(m)!.p[idx];
    if (idx < 0 || !piece) throw new EngineError('INVALID', `Share of holder ${m} is damaged (a piece is missing).`);
    secret = xor(secret, Buffer.from(piece, 'base64'));
  }
  const pub = Buffer.from(first.pub, 'base64');
  let derived: Buffer;
  try {
    derived = rawPublic(secret);
  } catch {
    derived = Buffer.alloc(0);
  }
  if (!derived.equals(pub) || quorumId(pub) !== first.q) {
    throw new EngineError('INVALID', `The shares do not reassemble the key of quorum ${first.q}: one of them is damaged or was altered. Ask the holders for their original share lines.`);
  }
  return { id: first.q, privateKey: secret };
}

/** A new quorum key pair: the public half to record, the private half to split (and then forget). */
export function newQuorumKey(): { pub: Buffer; priv: Buffer } {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  return { pub: publicKey.export({ type: 'spki', format: 'der' }).subarray(-32), priv: privateKey.export({ type: 'pkcs8', format: 'der' }).subarray(-32) };
}

function sharedKey(priv: Buffer | KeyObject, pub: Buffer, ephPub: Buffer, quorumPub: Buffer, aad: string): Buffer {
  const privateKey = Buffer.isBuffer(priv) ? createPrivateKey({ key: Buffer.concat([PKCS8_X25519, priv]), format: 'der', type: 'pkcs8' }) : priv;
  const publicKey = createPublicKey({ key: Buffer.concat([SPKI_X25519, pub]), format: 'der', type: 'spki' });
  const shared = diffieHellman({ privateKey, publicKey });
  return Buffer.from(hkdfSync('sha256', shared, Buffer.concat([ephPub, quorumPub]), `plexichat-maximum:${aad}`, 32));
}

/** Seals a data key to the quorum's public key (ECIES: ephemeral X25519, HKDF-SHA256, AES-256-GCM): eph | nonce | ct | tag. */
export function sealToQuorum(quorumPub: Buffer, plain: Buffer, aad: string): Buffer {
  const eph = generateKeyPairSync('x25519');
  const ephPub = eph.publicKey.export({ type: 'spki', format: 'der' }).subarray(-32);
  const key = sharedKey(eph.privateKey, quorumPub, ephPub, quorumPub, aad);
  const nonce = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key, nonce);
  c.setAAD(Buffer.from(aad));
  return Buffer.concat([ephPub, nonce, c.update(plain), c.final(), c.getAuthTag()]);
}

export function openFromQuorum(q: QuorumKey, sealed: Buffer, aad: string): Buffer {
  const ephPub = sealed.subarray(0, 32);
  const key = sharedKey(q.privateKey, ephPub, ephPub, rawPublic(q.privateKey), aad);
  const d = createDecipheriv('aes-256-gcm', key, sealed.subarray(32, 44));
  d.setAAD(Buffer.from(aad));
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(44, sealed.length - 16)), d.final()]);
}

const current = new AsyncLocalStorage<QuorumKey>();

/** Runs one operation with the quorum key reassembled from `shares` (none: runs without it). */
export async function withQuorumShares<T>(shares: string[] | undefined, fn: () => Promise<T>): Promise<T> {
  if (!shares?.length) return fn();
  return current.run(combineShares(shares), fn);
}

/** The quorum key of the operation in progress, if its shares were given. */
export const operationQuorum = (): QuorumKey | undefined => current.getStore();
