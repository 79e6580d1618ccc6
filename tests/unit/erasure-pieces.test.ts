import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../../server/engine/repository/codec';
import { joinPieces, readPiece, splitObject } from '../../server/engine/repository/pieces';
import { parsePieceKey, pieceKey } from '../../server/engine/repository/repository';

const ID = `${'ab'.repeat(32)}-0123456789ab`;

/** Every subset of `n` indices with exactly `size` members. */
function subsets(n: number, size: number): number[][] {
  if (size === 0) return [[]];
  if (n < size) return [];
  return [...subsets(n - 1, size), ...subsets(n - 1, size - 1).map((s) => [...s, n - 1])];
}

describe('erasure-coded pieces', () => {
  it('rebuilds the object from any k of k + m pieces (2+1, 4+2, 3+3), for odd sizes too', () => {
    for (const [k, m, size] of [[2, 1, 1_000_001], [4, 2, 262_147], [3, 3, 10], [2, 1, 1]] as const) {
      const object = randomBytes(size);
      const pieces = splitObject(ID, object, k, m);
      expect(pieces).toHaveLength(k + m);
      const payload = Math.ceil(size / k);
      for (const p of pieces) expect(p.length).toBeLessThan(payload + 200);
      for (const subset of subsets(k + m, k)) {
        const got = joinPieces(subset.map((i) => readPiece(pieces[i]!, { objectId: ID, k, m, index: i })));
        expect(got.equals(object), `${k}+${m} from pieces ${subset}`).toBe(true);
      }
    }
  });

  it('stores (k + m) / k of the object, plus a small header per piece', () => {
    const object = randomBytes(1 << 20);
    const total = splitObject(ID, object, 2, 1).reduce((n, p) => n + p.length, 0);
    expect(total / object.length).toBeGreaterThan(1.5);
    expect(total / object.length).toBeLessThan(1.501);
  });

  it('detects a tampered payload, a tampered header and a piece of another object or index', () => {
    const pieces = splitObject(ID, randomBytes(5000), 2, 1);
    const flipped = Buffer.from(pieces[1]!);
    flipped[flipped.length - 7]! ^= 1;
    expect(() => readPiece(flipped)).toThrow(IntegrityError);
    expect(() => readPiece(flipped)).toThrow(/piece checksum mismatch/);
    const header = Buffer.from(pieces[0]!);
    header[7] = 2; // claims to be piece 2
    expect(() => readPiece(header)).toThrow(/piece checksum mismatch/);
    expect(() => readPiece(pieces[0]!, { index: 1 })).toThrow(/index is 0, expected 1/);
    expect(() => readPiece(pieces[0]!, { objectId: 'other-id' })).toThrow(/objectId/);
    expect(() => readPiece(Buffer.from('PXPC'))).toThrow(IntegrityError);
    expect(() => readPiece(randomBytes(100))).toThrow(/bad magic/);
  });

  it('refuses too few pieces with a message naming what is there, and pieces of two different objects', () => {
    const pieces = splitObject(ID, randomBytes(4096), 4, 2);
    const three = [0, 3, 5].map((i) => readPiece(pieces[i]!));
    expect(() => joinPieces(three)).toThrow(/only 3 of the 4 pieces needed .* \(4\+2 coding; present: 0, 3, 5\)/);
    expect(() => joinPieces([])).toThrow(IntegrityError);
    const other = splitObject(ID, randomBytes(4096), 4, 2);
    expect(() => joinPieces([readPiece(pieces[0]!), readPiece(pieces[1]!), readPiece(pieces[2]!), readPiece(other[3]!)])).toThrow(/disagree/);
  });

  it('detects pieces whose headers are consistent but whose payloads were forged (the rebuilt SHA-256 differs)', () => {
    const object = randomBytes(3000);
    const pieces = splitObject(ID, object, 2, 1);
    // A forger rewrites piece 0's payload and recomputes its piece checksum: the piece reads, the object does not.
    const forged = splitObject(ID, randomBytes(3000), 2, 1)[0]!;
    const head = pieces[0]!.subarray(0, forged.length - 1500 - 32);
    const payload = forged.subarray(forged.length - 1500);
    const rebuilt = Buffer.concat([head, createHash('sha256').update(head).update(payload).digest(), payload]);
    const piece0 = readPiece(rebuilt);
    expect(() => joinPieces([piece0, readPiece(pieces[1]!)])).toThrow(/SHA-256 mismatch/);
    expect(joinPieces([readPiece(pieces[1]!), readPiece(pieces[2]!)]).equals(object)).toBe(true);
  });

  it('keeps working after many reconstructions (the wasm allocator breaks on a reused instance)', () => {
    for (let i = 0; i < 20; i++) {
      const object = randomBytes(100_000 + i);
      const pieces = splitObject(ID, object, 4, 2);
      expect(joinPieces([1, 2, 4, 5].map((j) => readPiece(pieces[j]!))).equals(object)).toBe(true);
    }
  });
});

describe('piece names', () => {
  it('carry the shard id, the coding and the index, and parse back', () => {
    const key = pieceKey(ID, { k: 4, m: 2 }, 5);
    expect(key).toBe(`data/ab/${ID}.rs4-2.p5`);
    expect(parsePieceKey(key)).toEqual({ shardId: ID, k: 4, m: 2, index: 5 });
    expect(parsePieceKey(`data/ab/${ID}`)).toBeNull();
    expect(parsePieceKey(`data/cd/${ID}.rs4-2.p5`)).toBeNull(); // not under its own prefix
    expect(parsePieceKey(`data/ab/${ID}.rs4-2.p6`)).toBeNull(); // no piece 6 in 4+2
    expect(parsePieceKey(`data/ab/${ID}.rs0-2.p0`)).toBeNull();
  });
});
