/**
 * lstat of a directory's entries through native/readfiles' lstatAt (dir-stat.ts), which the walk uses: every
 * field the walk keeps is what Node's own bigint lstat says, for files, directories, symlinks, hard links,
 * FIFOs, times before 1970 and in nanoseconds, names beyond ASCII; a name that vanished fails as lstat would.
 */
import { execFileSync } from 'node:child_process';
import { lstatSync } from 'node:fs';
import { link, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dirStatter, fromBigIntStats } from '../../server/engine/backup/dir-stat';
import { walkSources } from '../../server/engine/backup/source';

describe('lstat of a directory through native/readfiles', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'dir-stat-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));
  const statter = dirStatter();

  it('is built by npm ci and loads here (Linux): the walk stats through it', () => {
    expect(statter).not.toBeNull();
  });

  it('gives, entry by entry, what Node lstat gives: type, mode, owner, size, inode, links, times', async () => {
    await writeFile(path.join(dir, 'file'), 'hello');
    await writeFile(path.join(dir, 'old'), 'before 1970');
    await utimes(path.join(dir, 'old'), new Date(-86_400_000 * 400 + 123), new Date(-86_400_000 * 400 + 456));
    await mkdir(path.join(dir, 'sub'));
    await symlink('file', path.join(dir, 'link'));
    await link(path.join(dir, 'file'), path.join(dir, 'hard'));
    await writeFile(path.join(dir, 'ünïcødé 漢字'), 'x'.repeat(70_000));
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    const names = ['fifo', 'file', 'hard', 'link', 'old', 'sub', 'ünïcødé 漢字'];
    // More names than one call takes (256), so the chunks' seams are crossed.
    const many = Array.from({ length: 600 }, (_, i) => names[i % names.length]!);
    const stats = statter!(dir, many);
    many.forEach((name, i) => {
      const abs = path.join(dir, name);
      expect(stats.stat(i, abs)).toEqual(fromBigIntStats(lstatSync(abs, { bigint: true })));
    });
    const fifo = stats.stat(0, path.join(dir, 'fifo'));
    expect(fifo.type).toBeNull();
    const hard = statter!(dir, ['hard']).stat(0, path.join(dir, 'hard'));
    expect(hard.linkKey).toMatch(/^\d+:\d+$/);
    expect(hard.linkKey).toBe(statter!(dir, ['file']).stat(0, path.join(dir, 'file')).linkKey);
    expect(statter!(dir, ['old']).stat(0, path.join(dir, 'old')).mtimeNs).toBeLessThan(-34_559_999_000_000_000n); // before 1970, as lstat said above
  });

  it('fails a name that is not there (or not a name) as lstat would, the others still given', async () => {
    await writeFile(path.join(dir, 'here'), '');
    const stats = statter!(dir, ['gone', 'here', 'a/b']);
    expect(() => stats.stat(0, path.join(dir, 'gone'))).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'lstat', message: `ENOENT: no such file or directory, lstat '${path.join(dir, 'gone')}'` }));
    expect(stats.stat(1, path.join(dir, 'here')).type).toBe('f');
    expect(() => stats.stat(2, path.join(dir, 'a/b'))).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    const missing = statter!(path.join(dir, 'no-such-dir'), ['x']);
    expect(() => missing.stat(0, path.join(dir, 'no-such-dir', 'x'))).toThrow(expect.objectContaining({ code: 'ENOENT' }));
  });

  it('walks a tree to the same items as path-by-path lstat (PLEXICHAT_NATIVE_STAT=0, in a child process)', async () => {
    const tree = path.join(dir, 'tree');
    for (let d = 0; d < 5; d++) {
      await mkdir(path.join(tree, `d${d}`, 'deep'), { recursive: true });
      for (let f = 0; f < 300; f++) await writeFile(path.join(tree, `d${d}`, f % 2 ? `f${f}` : path.join('deep', `f${f}`)), String(f));
    }
    await symlink('../d0/f1', path.join(tree, 'd1', 'up'));
    const script = `import { walkSources } from ${JSON.stringify(path.resolve('server/engine/backup/source.ts'))};
      const out = [];
      for await (const it of walkSources([{ abs: ${JSON.stringify(tree)}, rel: '' }], () => {}, { xattrs: false })) out.push(it);
      // Not atimeNs: the first walk's readdir may touch the directories' atimes before the second one.
      console.log(JSON.stringify(out, (k, v) => (k === 'atimeNs' ? undefined : typeof v === 'bigint' ? String(v) : v)));`;
    const file = path.join(dir, 'walk.mts');
    await writeFile(file, script);
    const run = (env: Record<string, string>) => execFileSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 });
    const native = run({});
    const plain = run({ PLEXICHAT_NATIVE_STAT: '0' });
    expect(JSON.parse(native)).toHaveLength(5 * 302 + 1);
    expect(native === plain).toBe(true); // (not toBe: a difference would print both walks whole)
    const here: unknown[] = [];
    for await (const it of walkSources([{ abs: tree, rel: '' }], () => undefined, { xattrs: false })) here.push(it);
    expect(here).toHaveLength(5 * 302 + 1);
  });
});
