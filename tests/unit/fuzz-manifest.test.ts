/**
 * The manifest entry parser meets bytes from storage, which is untrusted. Seeded mutations of valid entry
 * lines (bytes flipped, inserted, cut; fields given values of every wrong type and range): each one either
 * parses to an entry that passes an independent validity check, or fails with EngineError('INTEGRITY') —
 * never another exception, a hang, or an entry restore would misuse. FUZZ_ITERATIONS=… for longer runs.
 */
import { describe, expect, it } from 'vitest';
import { EngineError } from '../../server/engine/errors';
import { checkEntryPath, type ManifestEntry, parseEntry } from '../../server/engine/repository/manifest';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 30_000);
const SEED = Number(process.env.FUZZ_SEED ?? 20_240_611);

/** mulberry32: small, fast, deterministic. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALID: ManifestEntry[] = [
  { p: 'd0/f1.dat', t: 'f', m: 0o644, mt: 1_700_000_000_999, mtn: 999_000, at: 1_700_000_001_000, atn: 0, s: 10, x: [[0, 5, 4], [1, 0, 6]], i: 1234, ct: 1_700_000_000_000, ctn: 5, u: 1000, g: 1000 },
  { p: 'links/two.txt', t: 'f', m: 0o600, mt: 1, mtn: 0, s: 3, x: [[7, 0, 3]], h: 'links/one.txt', xa: { 'user.a': 'AAEC/w==' } },
  { p: 'empty', t: 'f', m: 0o644, mt: -5, mtn: 999_999, s: 0 },
  { p: 'dir/nested', t: 'd', m: 0o3777, mt: 1_700_000_000_000, mtn: 1, u: 0, g: 0, xa: { 'user.note': 'aGk=' } },
  { p: 'link-to-file', t: 'l', m: 0o777, mt: 2, l: '../outside/target' },
  // An entry as older versions wrote it (rounded ms, no ns fields).
  { p: 'old.txt', t: 'f', m: 420, mt: 1_700_000_301_000, s: 2, x: [[3, 100, 2]], i: 9, ct: 1_700_000_301_000 },
];

const NASTY: unknown[] = [
  -1, 0, 1, 1.5, 2 ** 53, -(2 ** 53), 1e308, 0o7777 + 1, 4294967296, 999_999, 1_000_000, '', 'x', '0', '\0', 'a/../b', '/abs', '../x', 'a'.repeat(5000),
  null, true, false, [], {}, [0], [0, 0], [0, 0, 1], [[0, 0, 1]], [[0, 0, 0]], [[-1, 0, 1]], [[0, 0, 1.5]], [[0, 0, 2 ** 60]], [['0', 0, 1]], [[0, 0, 1, 2]],
  { 'user.a': 'AA==' }, { 'user.a': 1 }, { 'user.a': '!!!' }, { '': 'AA==' }, { 'user.\0': 'AA==' }, { ['x'.repeat(300)]: 'AA==' },
  Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`user.${i}`, 'AA=='])), { __proto__: { polluted: 1 } }, 'f', 'd', 'l', 'h',
];
const KEYS = ['p', 't', 'm', 'mt', 'mtn', 'at', 'atn', 's', 'x', 'l', 'i', 'ct', 'ctn', 'u', 'g', 'h', 'xa', '__proto__', 'constructor', 'zz'];
const CHARS = '{}[]":,0123456789-.eE+ \\/\0\u2028abcdeflmnprstux\uD800';

function mutate(rand: () => number, base: ManifestEntry): string {
  const pick = <T,>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const op = Math.floor(rand() * 8);
  if (op < 3) {
    // Field-level: a wrong value of any type, or a missing field.
    const obj: Record<string, unknown> = JSON.parse(JSON.stringify(base));
    for (let n = 1 + Math.floor(rand() * 3); n > 0; n--) {
      const k = pick(KEYS);
      if (rand() < 0.2) delete obj[k];
      else obj[k] = pick(NASTY);
    }
    return JSON.stringify(obj);
  }
  let s = JSON.stringify(base);
  for (let n = 1 + Math.floor(rand() * 4); n > 0; n--) {
    const at = Math.floor(rand() * (s.length + 1));
    switch (Math.floor(rand() * 5)) {
      case 0: s = s.slice(0, at) + pick([...CHARS]) + s.slice(at + 1); break;
      case 1: s = s.slice(0, at) + pick([...CHARS]) + s.slice(at); break;
      case 2: s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rand() * 8)); break;
      case 3: s = s.slice(0, at); break;
      default: s = s.slice(0, at) + s.slice(Math.floor(rand() * s.length)); break;
    }
  }
  return s;
}

const KNOWN = new Set(KEYS.slice(0, 17));
const int = (v: unknown, min: number, max: number) => typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max;

/** Independent of the parser: what restore, browse and the base index rely on. */
function assertValid(e: ManifestEntry): void {
  for (const k of Object.keys(e)) if (!KNOWN.has(k)) throw new Error(`unexpected field ${k}`);
  checkEntryPath(e.p);
  if (!['f', 'd', 'l'].includes(e.t)) throw new Error('type');
  if (!int(e.m, 0, 0o7777) || !int(e.mt, -8.64e15, 8.64e15)) throw new Error('mode/mtime');
  for (const k of ['mtn', 'atn', 'ctn'] as const) if (e[k] !== undefined && !int(e[k], 0, 999_999)) throw new Error(k);
  for (const k of ['at', 'ct'] as const) if (e[k] !== undefined && !int(e[k], -8.64e15, 8.64e15)) throw new Error(k);
  for (const k of ['i', 'u', 'g', 's'] as const) if (e[k] !== undefined && !int(e[k], 0, Number.MAX_SAFE_INTEGER)) throw new Error(k);
  const sum = (e.x ?? []).reduce((a, x) => {
    if (!Array.isArray(x) || x.length !== 3 || !int(x[0], 0, 2 ** 34) || !int(x[1], 0, Number.MAX_SAFE_INTEGER) || !int(x[2], 1, Number.MAX_SAFE_INTEGER)) throw new Error('extent');
    return a + x[2];
  }, 0);
  if (sum !== (e.s ?? 0)) throw new Error('extents vs size');
  if (e.t !== 'f' && (e.s !== undefined || e.x !== undefined || e.h !== undefined)) throw new Error('content on non-file');
  if (e.h !== undefined) checkEntryPath(e.h);
  if ((e.t === 'l') !== (typeof e.l === 'string') || (e.l !== undefined && (e.l.includes('\0') || e.l === ''))) throw new Error('link target');
  if (e.xa !== undefined) {
    const names = Object.keys(e.xa);
    if (names.length > 128) throw new Error('xattr count');
    let total = 0;
    for (const n of names) {
      const v = e.xa[n];
      if (typeof v !== 'string' || n.includes('\0') || n === '') throw new Error('xattr');
      total += Buffer.from(v, 'base64').length;
    }
    if (total > 262_144) throw new Error('xattr size');
  }
}

describe('manifest entry parser under fuzzing', () => {
  it('valid entries parse to themselves', () => {
    for (const e of VALID) expect(parseEntry(JSON.stringify(e))).toEqual(e);
  });

  it(`${ITERATIONS} seeded mutations: valid or an INTEGRITY error, nothing else`, () => {
    const rand = prng(SEED);
    let parsed = 0;
    let refused = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const line = mutate(rand, VALID[i % VALID.length]!);
      let e: ManifestEntry;
      try {
        e = parseEntry(line);
      } catch (err) {
        if (!(err instanceof EngineError) || err.code !== 'INTEGRITY') throw new Error(`iteration ${i} (seed ${SEED}) threw ${String(err)} for ${JSON.stringify(line)}`);
        refused++;
        continue;
      }
      try {
        assertValid(e);
      } catch (err) {
        throw new Error(`iteration ${i} (seed ${SEED}) accepted an invalid entry (${(err as Error).message}): ${JSON.stringify(line)}`);
      }
      parsed++;
    }
    // Both outcomes happen, so the mutations reach past the first checks.
    expect(parsed).toBeGreaterThan(ITERATIONS / 50);
    expect(refused).toBeGreaterThan(ITERATIONS / 2);
  }, 600_000);
});
