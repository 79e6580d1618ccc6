import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IntegrityError, decodeObject, encodeObject, readHeader, storedChecksum } from '../../server/engine/repository/codec';
import { chatJson, Rng } from '../support/tree';

const key = randomBytes(32);
const opts = { label: 'cid-1', keyId: 'dk-1', key, cipher: 'aes-256-gcm' as const, compression: 'auto' as const, level: 3 };

describe('the stored object format', () => {
  it('round-trips, compressing text and storing random data as is', () => {
    const text = chatJson(new Rng(1), 2000);
    const enc = encodeObject(Buffer.from(text), opts);
    expect(enc.compression).toBe('zstd');
    expect(enc.stored.length).toBeLessThan(text.length / 2);
    expect(decodeObject(enc.stored, 'cid-1', () => key).equals(text)).toBe(true);

    const noise = new Rng(2).bytes(300_000);
    const enc2 = encodeObject(Buffer.from(noise), opts);
    expect(enc2.compression).toBe('none');
    expect(decodeObject(enc2.stored, 'cid-1', () => key).equals(noise)).toBe(true);
  });

  it('compresses into reused memory without any stored object sharing it', () => {
    let scratch = Buffer.alloc(0);
    const discarded: Buffer[] = [];
    const memory = { scratch: (n: number) => (scratch.length >= n ? scratch : (scratch = Buffer.alloc(n))), discard: (b: Buffer) => void discarded.push(b) };
    for (const cipher of ['aes-256-gcm', 'none'] as const) {
      discarded.length = 0;
      const o = { ...opts, cipher, key: cipher === 'none' ? null : key };
      const texts = [1, 2, 3].map((seed) => Buffer.from(chatJson(new Rng(seed), 1500)));
      const encs = texts.map((t) => encodeObject(t, o, memory));
      expect(scratch.length).toBeGreaterThan(0);
      // Every shard was compressed into the same scratch: the earlier objects must not have changed since.
      encs.forEach((e, i) => {
        expect(e.compression).toBe('zstd');
        expect(e.stored.buffer).not.toBe(scratch.buffer);
        expect(decodeObject(e.stored, 'cid-1', () => key).equals(texts[i]!)).toBe(true);
      });
      // Only the ciphertext, once copied into the stored object, is handed back: never memory a result uses.
      expect(discarded.length).toBe(cipher === 'none' ? 0 : 3);
      for (const d of discarded) expect(encs.some((e) => e.stored.buffer === d.buffer)).toBe(false);
    }
  });

  it('supports every compression and the AES-128 cipher of BASIC', () => {
    const text = chatJson(new Rng(3), 500);
    for (const compression of ['zstd', 'lz4', 'gzip', 'none'] as const) {
      const k16 = randomBytes(16);
      const enc = encodeObject(Buffer.from(text), { ...opts, key: k16, cipher: 'aes-128-gcm', compression });
      expect(readHeader(enc.stored)).toMatchObject({ cipher: 'aes-128-gcm', compression, keyId: 'dk-1' });
      expect(decodeObject(enc.stored, 'cid-1', () => k16).equals(text)).toBe(true);
    }
  });

  it('lets anyone check integrity without a key, and detects any flipped byte', () => {
    const enc = encodeObject(randomBytes(10_000), opts);
    expect(storedChecksum(enc.stored)).toBe(enc.checksum);
    for (const pos of [0, 5, 100, enc.stored.length - 1]) {
      const bad = Buffer.from(enc.stored);
      bad[pos]! ^= 0x80;
      expect(storedChecksum(bad)).toBeNull();
      expect(() => decodeObject(bad, 'cid-1', () => key)).toThrow(IntegrityError);
    }
  });

  it('refuses a wrong key, and an object presented under another name', () => {
    const enc = encodeObject(randomBytes(1000), opts);
    expect(() => decodeObject(enc.stored, 'cid-1', () => randomBytes(32))).toThrow(/wrong key or tampered/);
    expect(() => decodeObject(enc.stored, 'cid-2', () => key)).toThrow(/wrong key or tampered/);
  });
});
