/**
 * The backup's small-file reads trust no size: a file that grew or shrank since the walk is read as it is
 * now, on the main thread or on the pool alike; and, without the batch reader (native/readfiles, batch-read.test.ts),
 * the reader goes to the pool after a read that waited.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readAhead, SmallFileReader, waitedForDisk } from '../../server/engine/backup/small-files';
import type { SourceItem } from '../../server/engine/backup/source';
import { readSmallFile, readSmallFileSync } from '../../server/engine/backup/small-files';
import { chunkBuffers } from '../../server/engine/repository/chunk-buffers';

describe('readSmallFile', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'small-read-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['the size the walk saw', 5000, 5000],
    ['an empty file', 0, 0],
    ['a file that grew by one byte', 5000, 5001],
    ['a file that grew past a read block', 100, 3 * 1024 * 1024 + 7],
    ['a file that shrank', 5000, 10],
  ])('reads %s whole', async (_what, walked, actual) => {
    const file = path.join(dir, `f-${walked}-${actual}`);
    const data = randomBytes(actual);
    await writeFile(file, data);
    expect((await readSmallFile(file, walked)).equals(data)).toBe(true);
    expect(readSmallFileSync(file, walked).equals(data)).toBe(true);
  });

  it('reads into a recyclable chunk buffer (no new memory per file once given back)', async () => {
    const file = path.join(dir, 'recycled');
    const data = randomBytes(200_000);
    await writeFile(file, data);
    const first = await readSmallFile(file, data.length);
    expect(first.equals(data)).toBe(true);
    expect(chunkBuffers.isOwned(first.buffer)).toBe(true);
    const memory = first.buffer;
    chunkBuffers.give(memory); // as the backup does once the bytes are in the data stream
    const second = readSmallFileSync(file, data.length);
    expect(second.buffer).toBe(memory);
    expect(second.equals(data)).toBe(true);
  });

  it('fails with the errno of a file that vanished', async () => {
    await expect(readSmallFile(path.join(dir, 'gone'), 10)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(() => readSmallFileSync(path.join(dir, 'gone'), 10)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    await expect(new SmallFileReader().read(path.join(dir, 'gone'), 10)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

/** A clock for the reader: its k-th read on the main thread (it reads the clock before and after) takes ms(k). */
function scripted(ms: (k: number) => number): () => number {
  let calls = 0;
  let now = 0;
  return () => {
    if (calls % 2 === 1) now += ms((calls - 1) / 2);
    calls++;
    return now;
  };
}

describe('SmallFileReader', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'small-reader-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const files = await Promise.all(
    Array.from({ length: 300 }, async (_, i) => {
      const abs = path.join(dir, `f${i}`);
      const data = randomBytes(100 + i);
      await writeFile(abs, data);
      return { abs, data };
    }),
  );

  it('tells a read that waited for the disk from one served by the page cache', () => {
    expect(waitedForDisk(0.05, 4096)).toBe(false);
    expect(waitedForDisk(0.1, 4096)).toBe(true); // a cold 4 KiB read on a virtual disk: ~0.1 ms
    expect(waitedForDisk(0.3, 512 * 1024)).toBe(false); // copying 512 KiB takes its time
    expect(waitedForDisk(2, 4096)).toBe(true);
    expect(waitedForDisk(1, 512 * 1024)).toBe(true);
  });

  it('reads on the main thread until two reads in a row are slow, then the next 256 on the pool, then tries again', async () => {
    const reader = new SmallFileReader(scripted((k) => (k === 3 || k === 4 ? 5 : 0.01)), null);
    const got: Buffer[] = [];
    for (const f of files) got.push(await reader.read(f.abs, f.data.length));
    got.forEach((b, i) => expect(b.equals(files[i]!.data)).toBe(true));
    expect(reader.counts).toEqual({ main: 5 + 39, pool: 256 });
  });

  it('stays on the main thread for slow reads that come one at a time (outliers among cached reads)', async () => {
    const reader = new SmallFileReader(scripted((k) => (k % 10 === 3 ? 5 : 0.01)), null);
    for (const f of files) expect((await reader.read(f.abs, f.data.length)).equals(f.data)).toBe(true);
    expect(reader.counts).toEqual({ main: 300, pool: 0 });
  });

  it('doubles the run on the pool while each try waits again, and starts over after a fast stretch', async () => {
    // Main-thread reads 0-3 wait (a cold tree): runs of 256, then 512; 76 fast reads later two wait again: 256.
    const reader = new SmallFileReader(scripted((k) => (k <= 3 || k === 80 || k === 81 ? 5 : 0)), null);
    for (let i = 0; i < 1200; i++) {
      const f = files[i % files.length]!;
      expect((await reader.read(f.abs, f.data.length)).equals(f.data)).toBe(true);
    }
    expect(reader.counts).toEqual({ main: 1200 - (256 + 512 + 256), pool: 256 + 512 + 256 });
  });

  it('reads ahead on the pool, and in walk order whichever way each file is read and however the walk batches them', async () => {
    // Batches of 1, 2, 3, … items, and an empty one (the walk sends none, but nothing should hang on it).
    const items = (): AsyncIterable<SourceItem[]> =>
      (async function* () {
        const all = files.map((f) => ({ abs: f.abs, rel: path.basename(f.abs), type: 'f', size: f.data.length }) as SourceItem);
        for (let at = 0, n = 1; at < all.length; at += n, n++) {
          if (n === 3) yield [];
          yield all.slice(at, at + n);
        }
      })();
    for (const slowEvery of [0, 7]) {
      // Two main-thread reads in every 7 wait 5 ms (or none does): the reads switch between the threads.
      const reader = new SmallFileReader(scripted((k) => (slowEvery && k % slowEvery >= slowEvery - 2 ? 5 : 0)), null);
      const seen: string[] = [];
      for await (const { it, content } of readAhead(items(), (x) => !x.rel.endsWith('9'), reader)) {
        seen.push(it.rel);
        const f = files.find((x) => x.abs === it.abs)!;
        if (it.rel.endsWith('9')) expect(content).toBeNull();
        else expect((await content!).equals(f.data)).toBe(true);
      }
      expect(seen).toEqual(files.map((f) => path.basename(f.abs)));
      expect(reader.counts.pool > 0).toBe(slowEvery > 0);
    }
  });

  it('stops the walk it reads when its consumer stops early (a walk may hold a thread)', async () => {
    let returned = false;
    const walk = (async function* () {
      try {
        for (let i = 0; i < 1000; i += 2) yield [i, i + 1].map((k) => ({ abs: '/nonexistent', rel: `f${k}`, type: 'd', size: 0 }) as SourceItem);
      } finally {
        returned = true;
      }
    })();
    for await (const { it } of readAhead(walk, () => true)) if (it.rel === 'f3') break;
    expect(returned).toBe(true);
  });

  it('from the page cache, reads a file when it is taken, not ahead (no window of contents held in memory)', async () => {
    const mine = await Promise.all([0, 1, 2, 3].map(async (i) => { const abs = path.join(dir, `late${i}`); await writeFile(abs, 'old'); return abs; }));
    // One batch: a file of it is read when it is taken, not when the batch arrives.
    const items = (async function* () {
      yield mine.map((abs) => ({ abs, rel: path.basename(abs), type: 'f', size: 3 }) as SourceItem);
    })();
    const got: string[] = [];
    for await (const { it, content } of readAhead(items, () => true, new SmallFileReader(scripted(() => 0), null))) {
      got.push((await content!).toString());
      const next = mine[mine.indexOf(it.abs) + 1];
      if (next) await writeFile(next, 'new');
    }
    expect(got).toEqual(['old', 'new', 'new', 'new']);
  });
});
