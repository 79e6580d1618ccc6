import { mkdtemp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sumTree } from '../../bench/real-trees';
import { verifyTree } from '../../bench/verify';

let dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  dirs = [];
});

/** A small tree: two files (one past the whole-read size, so hashed as a stream), a symlink, a subdirectory. */
async function makeTree(): Promise<string> {
  const root = await mkdtemp(path.join(tmpdir(), 'bench-verify-'));
  dirs.push(root);
  await mkdir(path.join(root, 'sub'));
  await writeFile(path.join(root, 'a.txt'), 'hello');
  await writeFile(path.join(root, 'sub', 'big.bin'), Buffer.alloc(5 * 1024 * 1024, 7));
  await symlink('sub/big.bin', path.join(root, 'link'));
  return root;
}

describe('bench restore check of a real tree', () => {
  it('accepts an identical copy: files by size and SHA-256, symlinks by target', async () => {
    const root = await makeTree();
    const sums = await sumTree(root);
    expect([sums.files, sums.links, sums.bytes]).toEqual([2, 1, 5 + 5 * 1024 * 1024]);
    expect(sums.sums.link).toEqual({ size: 0, sha256: '', link: 'sub/big.bin' });
    const v = await verifyTree(root, sums.sums);
    expect(v).toMatchObject({ ok: true, files_expected: 3, files_found: 3, problems: [] });
  });

  it('names a changed file, a missing one, an extra one and a symlink pointing elsewhere', async () => {
    const root = await makeTree();
    const { sums } = await sumTree(root);
    await writeFile(path.join(root, 'a.txt'), 'hellO');
    await rm(path.join(root, 'sub', 'big.bin'));
    await writeFile(path.join(root, 'sub', 'new.txt'), 'x');
    await rm(path.join(root, 'link'));
    await symlink('a.txt', path.join(root, 'link'));
    const v = await verifyTree(root, sums);
    expect(v.ok).toBe(false);
    expect(v.problems.sort()).toEqual(['a.txt: content differs (sha256)', 'link: symlink to a.txt, expected sub/big.bin', 'missing file sub/big.bin', 'unexpected file sub/new.txt']);
  });
});
