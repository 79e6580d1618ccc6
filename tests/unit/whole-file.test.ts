/**
 * A restore's small files written off the main thread (whole-file.ts, whole-file-queue.ts): the same flags
 * and checks as the long way (never through a link, never over an existing entry), holes kept, owner mode
 * and times set; errors keep their errno code; the queue batches without holding a file back.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type WholeFile, type WholeFileResult, type WrittenFiles, writeWholeFiles } from '../../server/engine/restore/whole-file';
import { WholeFileQueue } from '../../server/engine/restore/whole-file-queue';
import { CodecPool } from '../../server/engine/repository/codec-pool';

const file = (dest: string, pieces: Uint8Array[], over: Partial<WholeFile> = {}): WholeFile => ({
  dest,
  pieces,
  size: pieces.reduce((n, p) => n + p.length, 0),
  chown: null,
  mode: 0o640,
  times: [1_600_000_000.5, 1_700_000_000.25],
  ...over,
});

describe('writeWholeFiles', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'whole-file-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('writes data, mode and times; all-zero blocks stay holes, a file ending in one has its full size', async () => {
    const head = randomBytes(1000);
    const zeros = new Uint8Array(256 * 1024);
    const dest = path.join(dir, 'holes');
    const { results } = writeWholeFiles([file(dest, [head, zeros])]);
    expect(results).toEqual([{ done: true }]);
    const st = await stat(dest);
    expect(st.size).toBe(1000 + 256 * 1024);
    expect(st.mode & 0o7777).toBe(0o640);
    expect(st.mtimeMs).toBe(1_700_000_000_250);
    expect(st.atimeMs).toBe(1_600_000_000_500);
    expect(st.blocks * 512).toBeLessThan(128 * 1024); // the zeros were not written
    expect((await readFile(dest)).equals(Buffer.concat([head, zeros]))).toBe(true);
  });

  it('does not write through a symlink or over a file: the bytes come back, the other files are written', async () => {
    const outside = path.join(dir, 'outside');
    await writeFile(outside, 'keep me');
    await symlink(outside, path.join(dir, 'link'));
    await writeFile(path.join(dir, 'taken'), 'old');
    const data = randomBytes(100);
    const { results, buffers } = writeWholeFiles([file(path.join(dir, 'link'), [data]), file(path.join(dir, 'taken'), [data]), file(path.join(dir, 'new'), [data])]);
    expect(results.map((r) => r.done)).toEqual([false, false, true]);
    expect(Buffer.from((results[0] as { data: Uint8Array }).data).equals(data)).toBe(true);
    expect(buffers).toEqual([data.buffer]); // the one buffer the files share (as a batch's files do) goes back, listed once
    expect(await readFile(outside, 'utf8')).toBe('keep me');
    expect(await readFile(path.join(dir, 'taken'), 'utf8')).toBe('old');
    expect((await readFile(path.join(dir, 'new'))).equals(data)).toBe(true);
  });

  it('reports a failure with its errno code and goes on with the next file', () => {
    const { results } = writeWholeFiles([file(path.join(dir, 'no-such-dir', 'f'), [randomBytes(10)]), file(path.join(dir, 'after'), [randomBytes(10)])]);
    expect(results[0]).toMatchObject({ done: false, code: 'ENOENT' });
    expect(results[1]).toEqual({ done: true });
  });

  it('runs on the pool thread: files written there, errors with their code', async () => {
    const pool = new CodecPool(1);
    try {
      const queue = new WholeFileQueue((files) => pool.writeFiles(files));
      const data = randomBytes(5000);
      const [a, b, c] = await Promise.allSettled([
        queue.write(file(path.join(dir, 'p1'), [data])),
        queue.write(file(path.join(dir, 'p1'), [data])),
        queue.write(file(path.join(dir, 'gone', 'p2'), [data])),
      ]);
      expect(a).toEqual({ status: 'fulfilled', value: { done: true } });
      expect(b.status === 'fulfilled' && !b.value.done && b.value.data.equals(data)).toBe(true);
      expect(c).toMatchObject({ status: 'rejected', reason: { code: 'ENOENT' } });
      expect((await readFile(path.join(dir, 'p1'))).equals(data)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('holds a bounded amount of memory for the files it writes, however many', async () => {
    // A batch's slab comes back from the thread and is reused (at most a few are kept); before the slabs, each
    // batch's bytes died on that thread and needed a collection there (a 1 GiB restore of chat JSON held ~50 MiB
    // more at its peak without one). process.memoryUsage().arrayBuffers counts the memory this isolate allocated.
    const pool = new CodecPool(1);
    try {
      const queue = new WholeFileQueue((files) => pool.writeFiles(files));
      const data = randomBytes(96 * 1024);
      const before = process.memoryUsage().arrayBuffers;
      let most = 0;
      for (let batch = 0; batch < 12; batch++) {
        await Promise.all(Array.from({ length: 64 }, (_, i) => queue.write(file(path.join(dir, `free-${batch}-${i}`), [data]))));
        most = Math.max(most, process.memoryUsage().arrayBuffers - before);
      }
      // 72 MiB written, 6 MiB per round of 64 files: the slabs of the first round serve the others.
      expect(most).toBeLessThan(24 * 1024 * 1024);
      expect((await readFile(path.join(dir, 'free-11-63'))).equals(data)).toBe(true);
    } finally {
      await pool.close();
    }
  });
});

describe('WholeFileQueue', () => {
  /** A writer that records its batches and answers each when told, sending the files' buffers back as the thread does. */
  function recorder() {
    const batches: { files: WholeFile[]; answer: (r?: WholeFileResult[] | Error) => void }[] = [];
    const send = (files: WholeFile[]) =>
      new Promise<WrittenFiles>((resolve, reject) =>
        batches.push({
          files,
          answer: (r) =>
            r instanceof Error
              ? reject(r)
              : resolve({ results: r ?? files.map(() => ({ done: true })), buffers: [...new Set(files.flatMap((f) => f.pieces.map((p) => p.buffer as ArrayBuffer)))] }),
        }),
      );
    return { batches, send };
  }
  const turn = () => new Promise((resolve) => setImmediate(resolve));

  it('sends the files of one turn together, copied; later files wait for a free slot and go as one batch', async () => {
    const { batches, send } = recorder();
    const queue = new WholeFileQueue(send, 1);
    const piece = Buffer.from('abc');
    const first = [queue.write(file('/t/a', [piece])), queue.write(file('/t/b', [piece, piece]))];
    piece.fill(0); // the caller reuses its memory at once
    await turn();
    expect(batches).toHaveLength(1);
    expect(batches[0]!.files.map((f) => [f.dest, Buffer.from(f.pieces[0]!).toString()])).toEqual([
      ['/t/a', 'abc'],
      ['/t/b', 'abcabc'],
    ]);
    const later = [queue.write(file('/t/c', [piece])), queue.write(file('/t/d', [piece]))];
    await turn();
    expect(batches).toHaveLength(1); // one in flight: the next waits
    batches[0]!.answer();
    expect(await Promise.all(first)).toEqual([{ done: true }, { done: true }]);
    await turn();
    expect(batches).toHaveLength(2);
    expect(batches[1]!.files.map((f) => f.dest)).toEqual(['/t/c', '/t/d']);
    batches[1]!.answer([{ done: true }, { done: false, error: 'ENOSPC: no space left on device', code: 'ENOSPC' }]);
    const settled = await Promise.allSettled(later);
    expect(settled[0]).toEqual({ status: 'fulfilled', value: { done: true } });
    expect(settled[1]).toMatchObject({ status: 'rejected', reason: { code: 'ENOSPC', message: 'ENOSPC: no space left on device' } });
  });

  it("a batch's files travel in one 1 MiB slab of their own, not in Node's shared pool; a file larger than a slab goes alone", async () => {
    const { batches, send } = recorder();
    const queue = new WholeFileQueue(send, 2);
    const small = ['a', 'bb', 'ccc'].map((n) => queue.write(file(`/t/${n}`, [Buffer.from(n)])));
    await turn();
    const one = batches[0]!.files;
    expect(new Set(one.map((f) => f.pieces[0]!.buffer)).size).toBe(1);
    expect(one[0]!.pieces[0]!.buffer.byteLength).toBe(1024 * 1024); // a slab: transferable, not pooled
    expect(one.map((f) => Buffer.from(f.pieces[0]!).toString())).toEqual(['a', 'bb', 'ccc']);
    batches[0]!.answer();
    await Promise.all(small);
    const big = Buffer.alloc(1024 * 1024 + 1, 7);
    const writes = [queue.write(file('/t/x', [Buffer.from('x')])), queue.write(file('/t/big', [big])), queue.write(file('/t/y', [Buffer.from('y')]))];
    await turn();
    expect(batches.slice(1).map((b) => b.files.map((f) => f.dest))).toEqual([['/t/x'], ['/t/big']]);
    expect(Buffer.from(batches[2]!.files[0]!.pieces[0]!).equals(big)).toBe(true);
    expect(batches[2]!.files[0]!.pieces[0]!.buffer.byteLength).toBe(big.length);
    batches[1]!.answer();
    batches[2]!.answer();
    await turn();
    expect(batches[3]!.files.map((f) => Buffer.from(f.pieces[0]!).toString())).toEqual(['y']);
    batches[3]!.answer();
    expect(await Promise.all(writes)).toEqual([{ done: true }, { done: true }, { done: true }]);
  });

  it('reuses the slab a batch came back in, but not one whose bytes went back to a file that was not written', async () => {
    const { batches, send } = recorder();
    const queue = new WholeFileQueue(send, 1);
    const first = queue.write(file('/t/a', [Buffer.from('aaa')]));
    await turn();
    const slab = batches[0]!.files[0]!.pieces[0]!.buffer;
    batches[0]!.answer();
    await first;
    const second = queue.write(file('/t/b', [Buffer.from('bbb')]));
    await turn();
    expect(batches[1]!.files[0]!.pieces[0]!.buffer).toBe(slab); // the same memory, filled again
    expect(Buffer.from(batches[1]!.files[0]!.pieces[0]!).toString()).toBe('bbb');
    batches[1]!.answer([{ done: false, data: batches[1]!.files[0]!.pieces[0]! }]); // something was at /t/b
    const back = await second;
    expect(back.done).toBe(false);
    const third = queue.write(file('/t/c', [Buffer.from('ccc')]));
    await turn();
    expect(batches[2]!.files[0]!.pieces[0]!.buffer).not.toBe(slab); // the file's bytes stay as they were
    expect(!back.done && back.data.toString()).toBe('bbb');
    batches[2]!.answer();
    expect(await third).toEqual({ done: true });
  });

  it('a batch that fails as a whole fails each of its files, and the queue goes on', async () => {
    const { batches, send } = recorder();
    const queue = new WholeFileQueue(send, 2, 2);
    const writes = ['a', 'b', 'c'].map((n) => queue.write(file(`/t/${n}`, [Buffer.from(n)])));
    await turn();
    expect(batches.map((b) => b.files.length)).toEqual([2, 1]); // maxBatch 2, two in flight
    batches[0]!.answer(new Error('a codec worker stopped unexpectedly'));
    batches[1]!.answer();
    const settled = await Promise.allSettled(writes);
    expect(settled.map((s) => s.status)).toEqual(['rejected', 'rejected', 'fulfilled']);
    const next = queue.write(file('/t/d', [Buffer.from('d')]));
    await turn();
    batches[2]!.answer();
    expect(await next).toEqual({ done: true });
  });
});
