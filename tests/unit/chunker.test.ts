import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Chunker } from '../../server/engine/backup/chunker';
import { Rng } from '../support/tree';

const MiB = 1024 * 1024;

function chunk(data: Buffer, mode: 'cdc' | 'fixed', avg: number, feed = 65536): Buffer[] {
  const c = new Chunker({ mode, avgSize: avg });
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += feed) c.push(data.subarray(i, i + feed), (b) => out.push(b));
  c.flush((b) => out.push(b));
  return out;
}

const ids = (chunks: Buffer[]) => chunks.map((c) => createHash('sha256').update(c).digest('hex'));

describe('content-defined chunking', () => {
  const data = new Rng(1).bytes(24 * MiB);

  it('reassembles to the input, with sizes between min and max', () => {
    const chunks = chunk(data, 'cdc', MiB);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    for (const c of chunks.slice(0, -1)) {
      expect(c.length).toBeGreaterThanOrEqual(MiB / 4);
      expect(c.length).toBeLessThanOrEqual(4 * MiB);
    }
    const avg = data.length / chunks.length;
    expect(avg).toBeGreaterThan(0.7 * MiB);
    expect(avg).toBeLessThan(1.6 * MiB);
  });

  it('does not depend on how the input is fed', () => {
    expect(ids(chunk(data, 'cdc', MiB, 1000))).toEqual(ids(chunk(data, 'cdc', MiB, 3 * MiB)));
  });

  it('re-synchronises after an insertion near the start', () => {
    const before = new Set(ids(chunk(data, 'cdc', MiB)));
    const shifted = chunk(Buffer.concat([Buffer.from('0123456789'), data]), 'cdc', MiB);
    const changed = ids(shifted).filter((id) => !before.has(id));
    expect(changed.length).toBeLessThanOrEqual(2);
  });

  it('cuts exact shard_size pieces in fixed mode', () => {
    const chunks = chunk(data.subarray(0, 5 * MiB + 7), 'fixed', MiB);
    expect(chunks.map((c) => c.length)).toEqual([MiB, MiB, MiB, MiB, MiB, 7]);
  });

  it('cuts where it always has (stored shards dedup only against the same cut points)', () => {
    const data = new Rng(7).bytes(12 * MiB);
    const cuts = (mode: 'cdc' | 'fixed', avg: number) => {
      const lens = chunk(data, mode, avg, MiB).map((c) => c.length);
      return `${lens.length} ${createHash('sha256').update(lens.join(',')).digest('hex').slice(0, 16)}`;
    };
    // Recorded before the chunker stopped moving its buffer after every chunk.
    expect(cuts('cdc', MiB)).toBe('11 a8093c2f70a642e1');
    expect(cuts('cdc', 256 * 1024)).toBe('41 5dc4153c13f489a7');
    expect(cuts('fixed', MiB)).toBe('12 2378bd741228700e');
  });

  it('cuts text where it always has, however it is fed (pins recorded before the cut finder streamed)', () => {
    const words = ['{"id":', '"text":"', 'hello', 'world', '},\n', '"ts":1700000000', ' ', 'é', '\u00a0'];
    const text = Buffer.from(Array.from(new Rng(11).bytes(2 * MiB), (b) => words[b % words.length]).join(''));
    const cuts = (avg: number, feed: number) => {
      const lens = chunk(text, 'cdc', avg, feed).map((c) => c.length);
      return `${lens.length} ${createHash('sha256').update(lens.join(',')).digest('hex').slice(0, 16)}`;
    };
    expect(cuts(MiB, 4096)).toBe('10 b391d29155f82cb1');
    expect(cuts(MiB, 7 * MiB)).toBe('10 b391d29155f82cb1');
    expect(cuts(256 * 1024, 3 * MiB)).toBe('34 fab3cb02acf8b869');
  });
});

