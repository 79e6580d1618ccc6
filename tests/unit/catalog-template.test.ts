import { existsSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { extractTar, pgliteVersion, templateFile, unpackTemplate } from '../../db/catalog-template.mjs';

/** One ustar member: a 512-byte header (with its checksum), the bytes, the padding. */
function member(name: string, body: string | null, type = body === null ? '5' : '0'): Buffer {
  const data = Buffer.from(body ?? '');
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'latin1');
  h.write('0000666\0', 100, 'latin1');
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124, 'latin1');
  h.write('00000000000\0', 136, 'latin1');
  h.write(type, 156, 'latin1');
  h.write('ustar\0', 257, 'latin1');
  h.write('00', 263, 'latin1');
  h.fill(' ', 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
  return Buffer.concat([h, data, Buffer.alloc((512 - (data.length % 512)) % 512)]);
}
const tar = (...members: Buffer[]) => Buffer.concat([...members, Buffer.alloc(1024)]);
/** The archive as a stream cut into small, odd pieces: headers and bodies arrive split. */
const pieces = (b: Buffer) => Readable.from(Array.from({ length: Math.ceil(b.length / 333) }, (_, i) => b.subarray(i * 333, (i + 1) * 333)));

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'pb-template-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('catalog template', () => {
  it('extracts folders and files (leading slashes dropped) from a stream cut anywhere', async () => {
    const big = 'x'.repeat(1500);
    const dest = path.join(dir, 'out');
    await mkdir(dest);
    const written = await extractTar(pieces(tar(member('/PG_VERSION', '17\n'), member('/base/', null), member('/base/1/112', big), member('/empty', ''))), dest);
    expect(await readFile(path.join(dest, 'PG_VERSION'), 'utf8')).toBe('17\n');
    expect(await readFile(path.join(dest, 'base/1/112'), 'utf8')).toBe(big);
    expect(await readFile(path.join(dest, 'empty'), 'utf8')).toBe('');
    expect(written.map((p) => path.relative(dest, p)).sort()).toEqual(['PG_VERSION', 'base', 'base/1/112', 'empty']);
  });

  it.each([
    ['a path that climbs out', member('../outside', 'x')],
    ['a path that climbs out further down', member('/base/../../outside', 'x')],
    ['a symbolic link', member('/link', '', '2')],
    ['a hard link', member('/hard', '', '1')],
  ])('refuses %s and writes nothing outside', async (_what, hostile) => {
    const dest = path.join(dir, 'out');
    await mkdir(dest);
    await expect(extractTar(pieces(tar(member('/PG_VERSION', '17\n'), hostile)), dest)).rejects.toThrow(/catalog template: .*(leaves the cluster's folder|is not a folder or a plain file)/);
    expect(existsSync(path.join(dir, 'outside'))).toBe(false);
    expect((await readdir(dest)).sort()).toEqual(['PG_VERSION']);
  });

  it('refuses an archive that ends early', async () => {
    const dest = path.join(dir, 'out');
    await mkdir(dest);
    const cut = member('/base/1/112', 'y'.repeat(4000)).subarray(0, 2000);
    await expect(extractTar(pieces(Buffer.concat([member('/PG_VERSION', '17\n'), cut])), dest)).rejects.toThrow('catalog template: the archive ends early');
  });

  it("unpacks the installed template into a private folder, and leaves nothing behind when it cannot", async () => {
    const root = path.join(dir, 'app');
    const file = templateFile(root);
    expect(path.basename(file)).toBe(`pglite-${pgliteVersion()}.tar.gz`);
    const dbDir = path.join(dir, 'data', 'catalog');
    await mkdir(path.dirname(dbDir), { recursive: true });
    expect(await unpackTemplate(root, dbDir)).toBe(false); // none made for this PGlite: initdb's turn
    expect(existsSync(dbDir)).toBe(false);

    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, gzipSync(tar(member('/PG_VERSION', '17\n'), member('/base/', null), member('/base/1/112', 'page'))));
    expect(await unpackTemplate(root, dbDir)).toBe(true);
    expect(await readFile(path.join(dbDir, 'base/1/112'), 'utf8')).toBe('page');
    // The tar says 0666; the catalog's folders and files are the owner's alone.
    expect(statSync(dbDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dbDir, 'base/1')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dbDir, 'base/1/112')).mode & 0o777).toBe(0o600);
    expect(await readdir(path.dirname(dbDir))).toEqual(['catalog']);

    const other = path.join(dir, 'data', 'other');
    await writeFile(file, Buffer.concat([gzipSync(tar(member('/PG_VERSION', '17\n'))).subarray(0, 30)]));
    await expect(unpackTemplate(root, other)).rejects.toThrow();
    expect(await readdir(path.dirname(other))).toEqual(['catalog']); // no half cluster, no work folder
  });
});
