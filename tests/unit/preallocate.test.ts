/**
 * A restored file's blocks reserved before its data is written (preallocate.ts, the native/fallocate addon
 * that `npm ci` builds): only what is written is reserved, holes of sparse files stay holes, and a target
 * without room fails on the file that does not fit, named, without leaving it behind.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canPreallocate, PREALLOCATE_MIN, preallocate } from '../../server/engine/restore/preallocate';
import { writeSparse } from '../../server/engine/restore/restore-writer';
import { type WholeFile, writeWholeFiles } from '../../server/engine/restore/whole-file';

const file = (dest: string, pieces: Uint8Array[]): WholeFile => ({
  dest,
  pieces,
  size: pieces.reduce((n, p) => n + p.length, 0),
  chown: null,
  mode: 0o640,
  times: [1_600_000_000, 1_700_000_000],
});

describe('preallocate', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'prealloc-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('is built by npm ci and loads here (Linux)', () => {
    expect(canPreallocate()).toBe(true);
  });

  it('reserves a range: the file covers it, its blocks allocated before anything is written', () => {
    const dest = path.join(dir, 'reserved');
    const fd = openSync(dest, 'wx', 0o600);
    try {
      preallocate(fd, 0, 1024 * 1024, dest);
      const st = fstatSync(fd);
      expect(st.size).toBe(1024 * 1024);
      expect(st.blocks * 512).toBeGreaterThanOrEqual(1024 * 1024);
      expect(readFileSync(dest).every((b) => b === 0)).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it('a large file written whole: one reservation of the ranges written, its holes kept, its bytes exact', async () => {
    const a = randomBytes(PREALLOCATE_MIN);
    const b = randomBytes(PREALLOCATE_MIN);
    const zeros = new Uint8Array(6 * 64 * 1024); // six whole 64 KiB blocks of zeros between them
    const dest = path.join(dir, 'sparse-whole');
    expect(writeWholeFiles([file(dest, [a, zeros, b])]).results).toEqual([{ done: true }]);
    const st = await stat(dest);
    expect(st.size).toBe(a.length + zeros.length + b.length);
    expect(st.blocks * 512).toBeLessThan(3 * PREALLOCATE_MIN); // the zeros were neither reserved nor written
    expect((await readFile(dest)).equals(Buffer.concat([a, zeros, b]))).toBe(true);
  });

  it("a large file written in extents: each extent's data reserved just before it is written, its zeros never", async () => {
    const dest = path.join(dir, 'sparse-extents');
    const data = Buffer.concat([randomBytes(64 * 1024), Buffer.alloc(8 * 64 * 1024), randomBytes(64 * 1024)]);
    const fh = await open(dest, 'wx', 0o600);
    try {
      // Two extents at their offsets, as a restore's lanes write them (positioned, in any order), far apart.
      await writeSparse(fh, data, 1024 * 1024 * 1024, dest);
      await writeSparse(fh, data, 0, dest);
      await fh.truncate(1024 * 1024 * 1024 + data.length);
    } finally {
      await fh.close();
    }
    const st = await stat(dest);
    expect(st.size).toBe(1024 * 1024 * 1024 + data.length);
    expect(st.blocks * 512).toBeLessThan(6 * 64 * 1024); // 4 blocks of data: the GiB between and the zeros never reserved
    const back = await readFile(dest);
    expect(back.subarray(0, data.length).equals(data)).toBe(true);
    expect(back.subarray(1024 * 1024 * 1024).equals(data)).toBe(true);
  });
});

// A file system that is full: a small tmpfs (mounting needs root, as the CI runs).
describe.skipIf(process.getuid?.() !== 0)('preallocate on a file system without room', async () => {
  const mnt = await mkdtemp(path.join(tmpdir(), 'prealloc-full-'));
  beforeAll(() => execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mnt]));
  afterAll(async () => {
    execFileSync('umount', [mnt]);
    await rm(mnt, { recursive: true, force: true });
  });

  it('refuses a range it cannot hold with ENOSPC, naming the file', () => {
    const dest = path.join(mnt, 'too-big');
    const fd = openSync(dest, 'wx', 0o600);
    try {
      expect(() => preallocate(fd, 0, 4 * 1024 * 1024, dest)).toThrow(expect.objectContaining({ code: 'ENOSPC', syscall: 'fallocate', path: dest }));
      expect(() => preallocate(fd, 0, 4 * 1024 * 1024, dest)).toThrow(`ENOSPC: no space left on device, fallocate '${dest}'`);
    } finally {
      closeSync(fd);
    }
  });

  it('a file that does not fit fails with its code and is not left behind; the file that fits is written', async () => {
    const big = path.join(mnt, 'big');
    const small = path.join(mnt, 'small');
    const smallData = randomBytes(PREALLOCATE_MIN);
    const { results } = writeWholeFiles([file(big, [randomBytes(2 * 1024 * 1024)]), file(small, [smallData])]);
    expect(results[0]).toMatchObject({ done: false, code: 'ENOSPC' });
    expect(results[1]).toEqual({ done: true });
    await expect(stat(big)).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await readFile(small)).equals(smallData)).toBe(true);
  });
});
