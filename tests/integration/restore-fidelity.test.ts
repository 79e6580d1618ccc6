/**
 * A faithful restore (issue 11): nanosecond mtimes come back within 1 µs and never cross a second, hard
 * links come back as one inode, user xattrs, owners, empty dirs, symlinks and holes are kept — and the
 * same restore run again over itself with --overwrite succeeds and changes nothing.
 */
import { execFileSync } from 'node:child_process';
import { link, lstat, mkdir, open, readdir, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setAttributeSync } from '@napi-rs/xattr';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { fsTime } from '../../server/engine/restore/restore-writer';
import { runCli } from '../support/cli';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { fidelityDiff } from '../support/fidelity';
import { makeTree, pastRacyWindow } from '../support/tree';

const BASE_SEC = 1_700_000_000;

/** Sets an exact nanosecond mtime with GNU touch (Node's utimes stops at the microsecond). */
function touchNs(files: string[], sec: number, ns: number): void {
  execFileSync('touch', ['-h', '-m', '-d', `@${sec}.${String(ns).padStart(9, '0')}`, ...files]);
}

describe.each(CATALOG_MODES)('faithful restore (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let src: string;
  const allFiles: string[] = [];

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 11, smallFiles: 5000, smallMin: 0, smallMax: 2000, empties: true, symlinks: true });
    await mkdir(path.join(src, 'links', 'deeper'), { recursive: true });
    await writeFile(path.join(src, 'links', 'one.txt'), 'three names, one inode\n');
    await link(path.join(src, 'links', 'one.txt'), path.join(src, 'links', 'two.txt'));
    await link(path.join(src, 'links', 'one.txt'), path.join(src, 'links', 'deeper', 'three.txt'));
    await writeFile(path.join(src, 'tagged.txt'), 'has an xattr');
    setAttributeSync(path.join(src, 'tagged.txt'), 'user.plexichat.origin', Buffer.from([0, 1, 2, 255]));
    setAttributeSync(path.join(src, 'links'), 'user.dir-note', 'on a directory');
    // 8 MiB with 6 MiB of hole in the middle.
    const sparse = await open(path.join(src, 'sparse.img'), 'w');
    await sparse.write(Buffer.alloc(1024 * 1024, 7), 0, 1024 * 1024, 0);
    await sparse.write(Buffer.alloc(1024 * 1024, 9), 0, 1024 * 1024, 7 * 1024 * 1024);
    await sparse.close();
    await truncate(path.join(src, 'sparse.img'), 8 * 1024 * 1024);
    await symlink('links/one.txt', path.join(src, 'link-to-linked'));

    for (const e of await readdir(src, { withFileTypes: true, recursive: true })) if (!e.isDirectory()) allFiles.push(path.join(e.parentPath, e.name));
    allFiles.sort();
    // Most entries 1 µs before a second boundary (set through Node, as the restore does); some at the last
    // nanosecond of a second and some at …300.9996 s (GNU touch); directories last, deepest first.
    for (const [i, f] of allFiles.entries()) {
      if ((await lstat(f)).isSymbolicLink()) continue;
      if (i % 3 !== 2) await utimes(f, fsTime((BASE_SEC + i) * 1000 + 999, 999_000), fsTime((BASE_SEC + i) * 1000 + 999, 999_000));
    }
    touchNs(allFiles.filter((_, i) => i % 3 === 2 && i % 2 === 0), BASE_SEC + 300, 999_999_999);
    touchNs(allFiles.filter((_, i) => i % 3 === 2 && i % 2 === 1), BASE_SEC + 300, 999_600_000);
    touchNs([path.join(src, 'link-to-linked'), path.join(src, 'link-to-file')], BASE_SEC + 5, 999_999_001);
    const dirs = (await readdir(src, { withFileTypes: true, recursive: true })).filter((e) => e.isDirectory()).map((e) => path.join(e.parentPath, e.name));
    for (const d of dirs.sort().reverse()) touchNs([d], BASE_SEC + 7, 999_999_500);
  }, 120_000);
  afterAll(async () => t?.cleanup());

  it('source times are what the test meant (1 µs before a second, and the last ns)', async () => {
    const st = await lstat(allFiles[0]!, { bigint: true });
    expect(st.mtimeNs % 1_000_000_000n).toBe(999_999_000n);
    const last = await lstat(allFiles[2]!, { bigint: true });
    expect(last.mtimeNs % 1_000_000_000n).toBe(999_999_999n);
  });

  it('restores every mtime within 1 µs, 3 links as one inode, xattrs, holes; again over itself with --overwrite: exit 0, identical', async () => {
    const meta = await engine.createBackup({ paths: [src] });
    expect(meta.status).toBe('completed');
    const target = path.join(t.dir, 'restored');
    const r = await engine.restoreBackup(meta.backup_id, { target });
    expect(r.files_restored).toBe(meta.file_count);
    expect(await fidelityDiff(src, target)).toEqual([]);
    const one = await lstat(path.join(target, 'links', 'one.txt'));
    expect(one.nlink).toBe(3);
    expect((await lstat(path.join(target, 'links', 'deeper', 'three.txt'))).ino).toBe(one.ino);
    expect((await lstat(path.join(target, 'sparse.img'))).blocks).toBeLessThan(3 * 2048 + 64); // ~2 MiB allocated of 8

    const again = await runCli(['restore', meta.backup_id, '--target', target, '--overwrite', '--json'], t.env);
    expect(again.stderr).toBe('');
    expect(again.code).toBe(0);
    expect(await fidelityDiff(src, target)).toEqual([]);
    expect((await lstat(path.join(target, 'links', 'two.txt'))).nlink).toBe(3);
  }, 300_000);

  it('a hard link whose first path a filter leaves out is restored as a file', async () => {
    const meta = await engine.createBackup({ paths: [path.join(src, 'links')] });
    const target = path.join(t.dir, 'filtered');
    await engine.restoreBackup(meta.backup_id, { target, include: ['two.txt', 'deeper/three.txt'] });
    const two = await lstat(path.join(target, 'two.txt'));
    expect(two.isFile()).toBe(true);
    expect(two.nlink).toBe(2); // two.txt stands in for one.txt, three.txt links to it
    expect((await lstat(path.join(target, 'one.txt')).catch(() => null))).toBeNull();
  }, 120_000);

  it('an exact path list (a drill sample) restores only those paths; an include pattern also matches the name elsewhere', async () => {
    const dir = path.join(t.dir, 'same-names');
    await mkdir(path.join(dir, 'sub', '[x]'), { recursive: true });
    for (const f of ['x.txt', 'sub/x.txt', 'sub/[x]/x.txt', 'y.txt']) await writeFile(path.join(dir, f), `content of ${f}`);
    const meta = await engine.createBackup({ paths: [dir] });
    const exact = path.join(t.dir, 'same-names-exact');
    await engine.restoreBackup(meta.backup_id, { target: exact, paths: ['x.txt', 'sub/[x]/x.txt'] });
    expect((await readdir(exact, { recursive: true })).sort()).toEqual(['sub', 'sub/[x]', 'sub/[x]/x.txt', 'x.txt']);
    const byName = path.join(t.dir, 'same-names-include');
    await engine.restoreBackup(meta.backup_id, { target: byName, include: ['x.txt'] });
    expect((await readdir(byName, { recursive: true })).filter((f) => f.endsWith('.txt')).sort()).toEqual(['sub/[x]/x.txt', 'sub/x.txt', 'x.txt']);
  }, 120_000);

  it('atimes are recorded and restored when asked (recordAtime)', async () => {
    const dir = path.join(t.dir, 'atime-src');
    await mkdir(dir);
    const f = path.join(dir, 'f.txt');
    await writeFile(f, 'read me');
    await utimes(f, fsTime(1_600_000_000_999, 999_000), fsTime(1_700_000_000_000, 0));
    const meta = await engine.createBackup({ paths: [dir], recordAtime: true });
    const target = path.join(t.dir, 'atime-restored');
    await engine.restoreBackup(meta.backup_id, { target });
    const st = await lstat(path.join(target, 'f.txt'), { bigint: true });
    expect(st.atimeNs).toBe(1_600_000_000_999_999_000n);
    expect(st.mtimeNs).toBe(1_700_000_000_000_000_000n);
  }, 120_000);

  it('an incremental backup of the unchanged tree reuses every file (the change rule reads the new fields)', async () => {
    await pastRacyWindow();
    const base = await engine.createBackup({ paths: [src], backupType: 'full' });
    const inc = await engine.createBackup({ paths: [src], backupType: 'incremental' });
    // Every file but the 2 later names of the hard-linked inode, which are links to its first name, not reuses.
    expect(inc.metadata.files_reused).toBe(base.file_count - 2);
    const target = path.join(t.dir, 'incremental');
    await engine.restoreBackup(inc.backup_id, { target });
    expect(await fidelityDiff(src, target)).toEqual([]);
  }, 300_000);

  it("an incremental backup takes an unchanged file's xattrs from its base, and reads a file whose xattr changed since (its ctime moved)", async () => {
    const dir = path.join(t.dir, 'xattr-src');
    await mkdir(dir);
    await writeFile(path.join(dir, 'kept.txt'), 'same attribute');
    await writeFile(path.join(dir, 'edited.txt'), 'attribute changes');
    setAttributeSync(path.join(dir, 'kept.txt'), 'user.note', 'kept');
    setAttributeSync(path.join(dir, 'edited.txt'), 'user.note', 'before');
    await pastRacyWindow();
    await engine.createBackup({ paths: [dir], backupType: 'full' });
    setAttributeSync(path.join(dir, 'edited.txt'), 'user.note', 'after');
    const inc = await engine.createBackup({ paths: [dir], backupType: 'incremental' });
    expect(inc.metadata.files_reused).toBe(1);
    const target = path.join(t.dir, 'xattr-restored');
    await engine.restoreBackup(inc.backup_id, { target });
    expect(await fidelityDiff(dir, target)).toEqual([]);
  }, 120_000);
});
