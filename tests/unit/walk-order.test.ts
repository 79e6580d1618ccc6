/** The walk of a source: what a backup lists, in which order, under which paths. */
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveSources, walkSources, type SourceItem } from '../../server/engine/backup/source';

/** The documented order, written the plain recursive way: depth first, names sorted, a directory before its contents. */
function reference(dir: string, rel: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const abs = path.join(dir, name);
    const st = lstatSync(abs);
    const r = rel ? `${rel}/${name}` : name;
    const type = st.isDirectory() ? 'd' : st.isFile() ? 'f' : st.isSymbolicLink() ? 'l' : null;
    if (!type) continue;
    out.push(`${type} ${r} ${abs}`);
    if (type === 'd') reference(abs, r, out);
  }
  return out;
}

async function walk(sources: { abs: string; rel: string }[], skipped: string[] = []): Promise<string[]> {
  const out: string[] = [];
  for await (const it of walkSources(sources, (abs) => skipped.push(abs), { xattrs: false }) as AsyncIterable<SourceItem>) out.push(`${it.type} ${it.rel} ${it.abs}`);
  return out;
}

describe('the walk', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'walk-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  // Deep and wide: sorted names where byte order and "natural" order differ, empty directories, links.
  let deep = path.join(root, 'tree');
  for (let d = 0; d < 12; d++) {
    mkdirSync(deep, { recursive: true });
    for (const n of ['b', 'A', 'a10', 'a9', '.hidden', 'z z']) writeFileSync(path.join(deep, `${n}-${d}`), `${d}`);
    mkdirSync(path.join(deep, `empty-${d}`));
    symlinkSync('../nowhere', path.join(deep, `link-${d}`));
    deep = path.join(deep, d % 2 ? 'Sub' : 'sub');
  }
  mkdirSync(path.join(root, 'tree', 'wide'));
  for (let i = 0; i < 600; i++) writeFileSync(path.join(root, 'tree', 'wide', `f${i}`), '');
  execFileSync('mkfifo', [path.join(root, 'tree', 'pipe')]);

  it('lists every file, directory and link depth first, names sorted, each directory before its contents', async () => {
    const skipped: string[] = [];
    const [src] = await resolveSources([path.join(root, 'tree')]);
    const got = await walk([src!], skipped);
    expect(got).toEqual(reference(path.join(root, 'tree'), ''));
    expect(got.length).toBe(12 * 8 + 11 + 1 + 600); // 8 per level, 11 sub-directories, wide/ and its files
    expect(skipped).toEqual([path.join(root, 'tree', 'pipe')]);
  });

  it('gives the same paths whatever the spelling of the source (trailing slash, dots)', async () => {
    const plain = await walk([{ abs: path.join(root, 'tree'), rel: '' }]);
    expect(await walk([{ abs: `${root}/tree/`, rel: '' }])).toEqual(plain);
    expect(await walk([{ abs: `${root}/./tree/sub/..`, rel: '' }])).toEqual(plain);
  });

  it('fails on a source that is not there, and walks a file source as one item', async () => {
    const gone = path.join(root, 'gone');
    await expect(walk([{ abs: gone, rel: '' }])).rejects.toThrow(/stat|no such file/i);
    const file = path.join(root, 'tree', 'b-0');
    // A file given where a directory was expected by the caller is a file item of its own.
    expect(await walk([{ abs: file, rel: 'one' }])).toEqual([`f one ${file}`]);
  });
});
