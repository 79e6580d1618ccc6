/**
 * Small files read in batches through native/readfiles (batch-read.ts), built by `npm ci`: every file comes
 * back whole and as it is now (grown or shrunk since the walk), in its own recyclable buffer, and a file that
 * cannot be read fails alone, with the error fs would give.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { setAttributeSync } from '@napi-rs/xattr';
import { BatchReader, batchReader, contentDigest, type ReadFiles, storedObjectReader, withoutUserXattrs } from '../../server/engine/batch-read';
import { readSmallFile, SmallFileReader } from '../../server/engine/backup/small-files';
import { chunkBuffers } from '../../server/engine/repository/chunk-buffers';

describe('batch reads of small files', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'batch-read-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const reader = batchReader();

  it('is built by npm ci and loads here (Linux); a backup reads its small files through it', () => {
    expect(reader).not.toBeNull();
    expect(new SmallFileReader().onPool).toBe(true);
  });

  it('reads 100 files at once, of 0 bytes to 512 KiB, each whole into a chunk buffer of its own', async () => {
    const sizes = Array.from({ length: 100 }, (_, i) => (i === 0 ? 0 : i === 1 ? 512 * 1024 : (i * 7919) % 70_000));
    const files = await Promise.all(
      sizes.map(async (n, i) => {
        const abs = path.join(dir, `f${i}`);
        const data = randomBytes(n);
        await writeFile(abs, data);
        return { abs, data };
      }),
    );
    const got = await Promise.all(files.map((f) => reader!.read(f.abs, f.data.length, readSmallFile)));
    got.forEach((b, i) => {
      expect(b.equals(files[i]!.data)).toBe(true);
      expect(chunkBuffers.isOwned(b.buffer)).toBe(true);
      // Hashed by the pool thread that read it: the digest the manifest records without hashing again.
      expect(contentDigest(b)).toBe(createHash('sha256').update(files[i]!.data).digest('hex'));
    });
    expect(new Set(got.map((b) => b.buffer)).size).toBe(100);
    // Only the buffer the read returned has one: a copy of the same bytes is hashed by its user.
    expect(contentDigest(Buffer.from(got[5]!))).toBeUndefined();
  });

  it("gives no digest for a file that outgrew its buffer (read again whole), and none for a restore's shard reads", async () => {
    const abs = path.join(dir, 'grown-digest');
    const data = randomBytes(9000);
    await writeFile(abs, data);
    const grown = await reader!.read(abs, 4000, readSmallFile);
    expect(grown.equals(data)).toBe(true);
    expect(contentDigest(grown)).toBeUndefined();
    const shard = await storedObjectReader()!.read(abs, 9000, readSmallFile);
    expect(shard.equals(data)).toBe(true);
    expect(contentDigest(shard)).toBeUndefined();
  });

  it.each([
    ['grew by one byte', 5000, 5001],
    ['grew past a read block', 100, 3 * 1024 * 1024 + 7],
    ['shrank', 5000, 10],
    ['was emptied', 5000, 0],
  ])('reads a file that %s since the walk as it is now', async (what, walked, actual) => {
    const abs = path.join(dir, what.replace(/ /g, '-'));
    const data = randomBytes(actual);
    await writeFile(abs, data);
    expect((await reader!.read(abs, walked, readSmallFile)).equals(data)).toBe(true);
  });

  it('fails each file that cannot be read alone, as fs would (code, errno, the call that failed, path); the others of its batch are read', async () => {
    const ok = path.join(dir, 'ok');
    await writeFile(ok, 'fine');
    const sub = path.join(dir, 'a-directory');
    await mkdir(sub);
    const gone = path.join(dir, 'gone');
    const [a, b, c] = await Promise.allSettled([reader!.read(gone, 10, readSmallFile), reader!.read(ok, 4, readSmallFile), reader!.read(sub, 10, readSmallFile)]);
    // The error Node's own open gives for the same path: the same message, code, errno and call.
    const nodes = await open(gone, 'r').then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(nodes).toMatchObject({ code: 'ENOENT', syscall: 'open' });
    expect(a).toMatchObject({ status: 'rejected', reason: { code: 'ENOENT', errno: nodes!.errno, syscall: 'open', path: gone } });
    expect((a as PromiseRejectedResult).reason.message).toBe(nodes!.message);
    expect(b).toMatchObject({ status: 'fulfilled' });
    expect((b as PromiseFulfilledResult<Buffer>).value.toString()).toBe('fine');
    // A directory opens read-only; reading it fails.
    expect(c).toMatchObject({ status: 'rejected', reason: { code: 'EISDIR', syscall: 'read', path: sub } });
    expect((c as PromiseRejectedResult).reason.message).toBe(`EISDIR: illegal operation on a directory, read '${sub}'`);
  });

  it('rejects a batch the addon refuses (a NUL byte in a path) without throwing elsewhere', async () => {
    const ok = path.join(dir, 'ok2');
    await writeFile(ok, 'x');
    const bad = reader!.read(`${dir}/a\0b`, 1, readSmallFile);
    const good = reader!.read(ok, 1, readSmallFile);
    await expect(bad).rejects.toThrow(/NUL/);
    await expect(good).rejects.toThrow(/NUL/); // the same batch
    expect((await reader!.read(ok, 1, readSmallFile)).toString()).toBe('x');
  });

  it('says which files have no user.* attribute, so the backup lists attributes only for the others', async () => {
    const plain = path.join(dir, 'xa-plain');
    const tagged = path.join(dir, 'xa-tagged');
    const trusted = path.join(dir, 'xa-trusted');
    for (const f of [plain, tagged, trusted]) await writeFile(f, 'x');
    setAttributeSync(tagged, 'user.note', 'kept by a backup');
    if (process.getuid?.() === 0) setAttributeSync(trusted, 'trusted.note', 'not kept by a backup');
    const [a, b, c] = await Promise.all([plain, tagged, trusted].map((f) => reader!.read(f, 1, readSmallFile)));
    expect(withoutUserXattrs(a!)).toBe(true);
    expect(withoutUserXattrs(b!)).toBe(false);
    expect(withoutUserXattrs(c!)).toBe(true);
    // A file read again whole (it grew since the walk) is not vouched for: its attributes are listed.
    await writeFile(plain, 'grown');
    expect(withoutUserXattrs(await reader!.read(plain, 1, readSmallFile))).toBe(false);
  });

  it('fails a path that became a FIFO since the walk at once, instead of waiting on it for good', async () => {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    await expect(reader!.read(fifo, 10, readSmallFile)).rejects.toMatchObject({ code: 'ESPIPE', path: fifo });
  });

  it('sends a batch once it holds its files or its bytes: a restore\'s first shard does not wait for eight', async () => {
    // The addon's side of the trip, recorded: how many files each trip carried (each read as empty).
    const trips: number[] = [];
    const addon: ReadFiles = { read: (paths, _buffers, done) => (trips.push(paths.length), setImmediate(() => done(new Int32Array(2 * paths.length)))) };
    const MiB = 1024 * 1024;
    const byBytes = new BatchReader(addon, 8, 2 * MiB);
    await Promise.all([MiB, MiB, MiB, 10, MiB].map((n, i) => byBytes.read(`/x/${i}`, n, readSmallFile)));
    expect(trips).toEqual([2, 3]);
    trips.length = 0;
    const byFiles = new BatchReader(addon, 8);
    await Promise.all(Array.from({ length: 20 }, (_, i) => byFiles.read(`/y/${i}`, MiB, readSmallFile)));
    expect(trips).toEqual([8, 8, 4]);
    expect(storedObjectReader()).not.toBeNull();
  });
});
