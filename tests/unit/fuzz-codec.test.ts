/**
 * Fuzzing the object parser (codec.ts) with seeded mutations of valid objects, in the style of Kopia's
 * packindex_test.go: bit flips, truncations, extensions, header byte edits and body splices, each also
 * "re-sealed" (the trailing SHA-256 recomputed, which anyone with write access to storage can do).
 * Every mutation must decode to the original bytes, or — only where the mutated header says "no
 * encryption" — to some bounded plaintext the content-id check then judges, or fail with IntegrityError.
 * Never another exception, a hang, or an output above the plaintext limit.
 *
 * FUZZ_ITERATIONS raises the count (default keeps the file to a few seconds).
 */
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeObject, encodeObject, IntegrityError, readHeader, type Cipher } from '../../server/engine/repository/codec';
import { MAX_PLAIN } from '../../server/engine/repository/compression';
import { chatJson, Rng } from '../support/tree';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 20_000);
const SUM = 32;

function reseal(b: Buffer): Buffer {
  if (b.length < SUM) return b;
  const body = b.subarray(0, b.length - SUM);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

function mutate(rng: Rng, orig: Buffer): { bytes: Buffer; what: string } {
  const b = Buffer.from(orig);
  const kind = rng.int(0, 6);
  let out: Buffer;
  let what: string;
  switch (kind) {
    case 0: {
      const n = rng.int(1, 4);
      for (let i = 0; i < n; i++) b[rng.int(0, b.length - 1)]! ^= 1 << rng.int(0, 7);
      out = b;
      what = `flip ${n} bits`;
      break;
    }
    case 1:
      out = b.subarray(0, rng.int(0, b.length - 1));
      what = `truncate to ${out.length}`;
      break;
    case 2:
      out = Buffer.concat([b, rng.bytes(rng.int(1, 64))]);
      what = 'extend';
      break;
    case 3: {
      // The header: magic, version, compression, cipher, key-id length, key id, nonce.
      const pos = rng.int(0, Math.min(b.length - 1, 8 + b[7]! + 12));
      b[pos] = rng.int(0, 255);
      out = b;
      what = `header byte ${pos}`;
      break;
    }
    case 4: {
      b[rng.int(5, 7)] = rng.int(0, 5); // compression, cipher or key-id length to a small value
      out = b;
      what = 'header code';
      break;
    }
    case 5: {
      const at = rng.int(8, b.length - 1);
      const len = rng.int(1, Math.min(256, b.length - at));
      rng.bytes(len).copy(b, at);
      out = b;
      what = `splice ${len} at ${at}`;
      break;
    }
    default: {
      // A plaintext header over another object's body: the downgrade an attacker without the key would try.
      const plain = Buffer.from(b);
      plain[6] = 0;
      plain[7] = Math.min(plain[7]!, 8);
      out = plain;
      what = 'downgrade to cipher none';
    }
  }
  const sealed = rng.int(0, 1) === 1;
  return { bytes: sealed ? reseal(out) : out, what: `${what}${sealed ? ' (re-sealed)' : ''}` };
}

interface Seed {
  stored: Buffer;
  plain: Buffer;
  key: Buffer | null;
  label: string;
}

function seeds(): Seed[] {
  const rng = new Rng(7);
  const out: Seed[] = [];
  const ciphers: Cipher[] = ['none', 'aes-256-gcm', 'aes-128-gcm'];
  for (const cipher of ciphers) {
    for (const compression of ['none', 'zstd', 'lz4', 'gzip'] as const) {
      for (const plain of [chatJson(rng, 20), rng.bytes(700), Buffer.alloc(3000)]) {
        const key = cipher === 'none' ? null : randomBytes(cipher === 'aes-128-gcm' ? 16 : 32);
        const label = randomBytes(32).toString('hex');
        const enc = encodeObject(plain, { label, keyId: `dk-${randomBytes(4).toString('hex')}`, key, cipher, compression, level: 3 });
        out.push({ stored: enc.stored, plain, key, label });
      }
    }
  }
  return out;
}

describe('fuzz: the object format meets hostile bytes', () => {
  it(`${ITERATIONS} seeded mutations of valid objects decode to the original or fail with IntegrityError`, () => {
    const all = seeds();
    const rng = new Rng(2024);
    const started = Date.now();
    const tally = { original: 0, integrity: 0, plainOther: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      const s = all[i % all.length]!;
      const { bytes, what } = mutate(rng, s.stored);
      const keyFor = (id: string) => (s.key && id === readHeader(s.stored).keyId ? s.key : null);
      let out: Buffer;
      try {
        out = decodeObject(bytes, s.label, keyFor);
      } catch (err) {
        if (!(err instanceof IntegrityError)) throw new Error(`iteration ${i} (${what}): ${(err as Error).name}: ${(err as Error).message}`);
        tally.integrity++;
        continue;
      }
      if (out.equals(s.plain)) {
        tally.original++;
        continue;
      }
      // Only an object whose header says "no encryption" may decode to something else (the reader's content-id
      // check judges it); and never when the repository requires encryption.
      expect(readHeader(bytes).cipher, `iteration ${i} (${what})`).toBe('none');
      expect(out.length).toBeLessThanOrEqual(MAX_PLAIN);
      expect(() => decodeObject(bytes, s.label, keyFor, { allowPlain: false })).toThrow(IntegrityError);
      tally.plainOther++;
    }
    expect(tally.integrity).toBeGreaterThan(ITERATIONS / 2);
    // No single decode may stall: the whole run stays well within the test's budget.
    expect(Date.now() - started).toBeLessThan(Math.max(30_000, ITERATIONS * 5));
  });

  it('a header whose key-id length points past the end is refused before any read', () => {
    const enc = encodeObject(Buffer.from('hello'), { label: 'x', keyId: 'dk-1', key: randomBytes(32), cipher: 'aes-256-gcm', compression: 'none', level: 3 });
    for (const len of [200, 255, enc.stored.length - 40]) {
      const b = Buffer.from(enc.stored);
      b[7] = len;
      expect(() => readHeader(reseal(b))).toThrow(IntegrityError);
      expect(() => decodeObject(reseal(b), 'x', () => null)).toThrow(IntegrityError);
    }
  });

  it('compressed frames that lie about their size fail without allocating what they claim', () => {
    const key = null;
    for (const compression of ['zstd', 'lz4', 'gzip'] as const) {
      const enc = encodeObject(Buffer.alloc(50_000, 7), { label: 'x', keyId: '', key, cipher: 'none', compression, level: 3 });
      const b = Buffer.from(enc.stored);
      // zstd: the frame header's content size; lz4: the prepended u32 size; gzip: the trailer's size field.
      const body = 8;
      if (compression === 'lz4') b.writeUInt32LE(0xfffffff0, body);
      else if (compression === 'zstd') b[body + 4] = 0xff;
      else b.writeUInt32LE(0xfffffff0, b.length - SUM - 4);
      const before = process.memoryUsage().arrayBuffers;
      try {
        const out = decodeObject(reseal(b), 'x', () => null);
        expect(out.length).toBeLessThanOrEqual(MAX_PLAIN);
      } catch (err) {
        expect(err).toBeInstanceOf(IntegrityError);
      }
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024);
    }
  });
});
