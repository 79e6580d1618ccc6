import { createHash, randomBytes } from 'node:crypto';
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
    const memory = { scratch: (n: number) => (scratch.length >= n ? scratch : (scratch = Buffer.alloc(n))) };
    for (const cipher of ['aes-256-gcm', 'none'] as const) {
      const o = { ...opts, cipher, key: cipher === 'none' ? null : key };
      const texts = [1, 2, 3].map((seed) => Buffer.from(chatJson(new Rng(seed), 1500)));
      const encs = texts.map((t) => encodeObject(t, o, memory));
      expect(scratch.length).toBeGreaterThan(0);
      // Every shard was compressed into the same scratch: the earlier objects must not have changed since.
      encs.forEach((e, i) => {
        expect(e.compression).toBe('zstd');
        expect(e.stored.buffer).not.toBe(scratch.buffer);
        // Each stored object is the whole of a buffer of its own (a worker transfers it without a copy).
        expect(e.stored.byteOffset === 0 && e.stored.byteLength === e.stored.buffer.byteLength).toBe(true);
        expect(decodeObject(e.stored, 'cid-1', () => key).equals(texts[i]!)).toBe(true);
      });
    }
  });

  it('encrypts and decrypts in pieces across their boundaries: every size round-trips, a flipped byte in any piece fails', () => {
    for (const size of [0, 1, 65_535, 65_536, 65_537, 3 * 65_536 + 17, 1_048_576]) {
      const data = randomBytes(size);
      for (const compression of ['none', 'zstd'] as const) {
        const enc = encodeObject(data, { ...opts, compression });
        expect(decodeObject(enc.stored, 'cid-1', () => key).equals(data), `${size} bytes, ${compression}`).toBe(true);
      }
    }
    const enc = encodeObject(randomBytes(200_000), { ...opts, compression: 'none' });
    const bodyStart = enc.stored.length - 32 - 16 - 200_000;
    for (const offset of [0, 65_535, 65_536, 131_073, 199_999]) {
      const bad = Buffer.from(enc.stored);
      bad[bodyStart + offset]! ^= 1;
      // The checksum is recomputed, as a forger would: only authentication can catch it.
      createHash('sha256').update(bad.subarray(0, bad.length - 32)).digest().copy(bad, bad.length - 32);
      expect(() => decodeObject(bad, 'cid-1', () => key), `byte ${offset} of the body`).toThrow(/wrong key or tampered/);
    }
  });

  it('decodes into the memory it is given: a compressed body through the scratch, an uncompressed one straight into the plaintext', () => {
    let scratch = Buffer.alloc(0);
    const allocs: Buffer[] = [];
    const memory = {
      scratch: (n: number) => (scratch.length >= n ? scratch : (scratch = Buffer.alloc(n))),
      alloc: (n: number) => {
        const b = Buffer.alloc(n);
        allocs.push(b);
        return b;
      },
    };
    const text = Buffer.from(chatJson(new Rng(7), 2000));
    const zipped = decodeObject(encodeObject(text, opts).stored, 'cid-1', () => key, {}, memory);
    expect(zipped.equals(text)).toBe(true);
    expect(scratch.length).toBeGreaterThan(0);
    expect(zipped.buffer).toBe(allocs.at(-1)!.buffer);
    const noise = randomBytes(300_000);
    const plain = decodeObject(encodeObject(noise, { ...opts, compression: 'none' }).stored, 'cid-1', () => key, {}, memory);
    expect(plain.equals(noise)).toBe(true);
    expect(plain.buffer).toBe(allocs.at(-1)!.buffer);
    expect(plain.buffer).not.toBe(scratch.buffer);
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

  it('with tagSuffices, an encrypted object stands on its GCM tag: any flipped byte of header or body still fails, only the trailing checksum is not read; an unencrypted one is always checksummed', () => {
    const plain = Buffer.from(chatJson(new Rng(3), 500));
    const enc = encodeObject(plain, opts);
    const lenient = { expectedChecksum: enc.checksum, tagSuffices: true };
    expect(decodeObject(enc.stored, 'cid-1', () => key, lenient).equals(plain)).toBe(true);
    const sumAt = enc.stored.length - 32;
    for (const pos of [0, 4, 5, 6, 7, 9, 20, 40, sumAt - 17, sumAt - 1]) {
      const bad = Buffer.from(enc.stored);
      bad[pos]! ^= 0x01;
      expect(() => decodeObject(bad, 'cid-1', () => key, lenient), `byte ${pos}`).toThrow(IntegrityError);
    }
    expect(() => decodeObject(enc.stored, 'cid-2', () => key, lenient)).toThrow(/wrong key or tampered/);
    const trailer = Buffer.from(enc.stored);
    trailer[sumAt + 3]! ^= 0x01; // the hash of the rest: verify reports it, a restore gets the right bytes
    expect(decodeObject(trailer, 'cid-1', () => key, lenient).equals(plain)).toBe(true);
    expect(() => decodeObject(trailer, 'cid-1', () => key, { expectedChecksum: enc.checksum })).toThrow(/checksum mismatch/);

    const open = encodeObject(plain, { ...opts, cipher: 'none', key: null });
    const flipped = Buffer.from(open.stored);
    flipped[open.stored.length - 100]! ^= 0x01;
    expect(() => decodeObject(flipped, 'cid-1', () => null, { expectedChecksum: open.checksum, tagSuffices: true })).toThrow(/checksum mismatch/);
    const other = encodeObject(Buffer.from('another object'), { ...opts, cipher: 'none', key: null });
    expect(() => decodeObject(other.stored, 'cid-1', () => null, { expectedChecksum: open.checksum, tagSuffices: true })).toThrow(/checksum mismatch/);
  });

  it('refuses a wrong key, and an object presented under another name', () => {
    const enc = encodeObject(randomBytes(1000), opts);
    expect(() => decodeObject(enc.stored, 'cid-1', () => randomBytes(32))).toThrow(/wrong key or tampered/);
    expect(() => decodeObject(enc.stored, 'cid-2', () => key)).toThrow(/wrong key or tampered/);
  });
});
