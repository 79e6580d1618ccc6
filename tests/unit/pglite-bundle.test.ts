/**
 * The embedded database's share-file bundle mapped instead of read (db/pglite-bundle.ts, native/readfiles'
 * mapFile): the same bytes as the installed file, and a write through the buffer (PGlite's in-memory file
 * system may write to the files it serves from it) changes this process's copy only, never the file.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { mappedFsBundle, pgliteBundlePath } from '../../db/pglite-bundle';
import { loadAddon } from '../../server/engine/native-addon';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const addon = loadAddon<{ mapFile(file: string): ArrayBuffer }>('readfiles');

describe('the database bundle, mapped', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'pglite-bundle-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('gives the installed bundle byte for byte; a write to the buffer never reaches the file', async () => {
    const bundle = mappedFsBundle();
    expect(bundle).toBeDefined();
    const onDisk = await readFile(pgliteBundlePath());
    const mapped = new Uint8Array(await bundle!.arrayBuffer());
    expect(mapped.byteLength).toBe(onDisk.byteLength);
    expect(sha(mapped)).toBe(sha(onDisk));

    const file = path.join(dir, 'copy.data');
    await writeFile(file, onDisk);
    const view = new Uint8Array(addon!.mapFile(file));
    view.fill(0xee, 0, 4096);
    view[view.length - 1] = 0x5a;
    expect(view[0]).toBe(0xee);
    expect(sha(await readFile(file))).toBe(sha(onDisk));
  });

  it('maps an empty file to an empty buffer, and names the failure for a missing file or a folder', async () => {
    const empty = path.join(dir, 'empty');
    await writeFile(empty, '');
    expect(addon!.mapFile(empty).byteLength).toBe(0);
    expect(() => addon!.mapFile(path.join(dir, 'missing'))).toThrow(/mapFile: open failed: No such file or directory/);
    await mkdir(path.join(dir, 'folder'));
    expect(() => addon!.mapFile(path.join(dir, 'folder'))).toThrow(/mapFile: not a regular file/);
    expect(() => addon!.mapFile(`${dir}\0x`)).toThrow(/mapFile\(path/);
  });
});
