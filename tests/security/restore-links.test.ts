/**
 * Restore writes only inside its target (issue 10): a symlink already in the target — to a file, to a
 * missing file, or to a directory outside — is replaced, never followed; setuid/setgid/sticky bits come
 * back only with --preserve-special-bits; payload names that could never be restored are refused.
 */
import { chmod, lstat, mkdir, readFile, readdir, readlink, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { RestoreTree } from '../../server/engine/restore/restore-writer';
import { runCli } from '../support/cli';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

describe.each(CATALOG_MODES)('restore never follows a link it did not create (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;
  let backupId: string;
  let outside: string;

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
    const src = path.join(t.dir, 'src');
    await mkdir(path.join(src, 'sub'), { recursive: true });
    await writeFile(path.join(src, 'leaf.txt'), 'restored content\n');
    await writeFile(path.join(src, 'fresh.txt'), 'must not land outside\n');
    await writeFile(path.join(src, 'sub', 'x.txt'), 'inside sub\n');
    await writeFile(path.join(src, 'tool'), '#!/bin/sh\n');
    await chmod(path.join(src, 'tool'), 0o4755);
    await mkdir(path.join(src, 'shared'));
    await chmod(path.join(src, 'shared'), 0o3777);
    backupId = (await engine.createBackup({ paths: [src] })).backup_id;
  }, 120_000);
  afterAll(async () => t?.cleanup());

  /** A target already holding links out of it, and the outside they point at (with a known mtime). */
  async function trap(name: string, withDirLink: boolean): Promise<{ target: string; out: string }> {
    const out = path.join(t.dir, `${name}-outside`);
    const target = path.join(t.dir, `${name}-target`);
    await mkdir(path.join(out, 'dir'), { recursive: true });
    await writeFile(path.join(out, 'file'), 'outside, untouched\n');
    await chmod(path.join(out, 'file'), 0o640);
    await utimes(path.join(out, 'file'), 1_000_000, 1_000_000);
    await mkdir(target);
    await symlink(path.join(out, 'file'), path.join(target, 'leaf.txt'));
    await symlink(path.join(out, 'created-through-link'), path.join(target, 'fresh.txt'));
    if (withDirLink) await symlink(path.join(out, 'dir'), path.join(target, 'sub'));
    outside = out;
    return { target, out };
  }

  async function untouched(out: string, target: string): Promise<void> {
    expect(await readFile(path.join(out, 'file'), 'utf8')).toBe('outside, untouched\n');
    const st = await stat(path.join(out, 'file'));
    expect(st.mode & 0o7777).toBe(0o640);
    expect(st.mtimeMs).toBe(1_000_000_000);
    expect((await readdir(out)).sort()).toEqual(['dir', 'file']);
    expect(await readdir(path.join(out, 'dir'))).toEqual([]);
    const leaf = await lstat(path.join(target, 'leaf.txt'));
    expect(leaf.isFile()).toBe(true);
    expect(await readFile(path.join(target, 'leaf.txt'), 'utf8')).toBe('restored content\n');
    expect((await lstat(path.join(target, 'fresh.txt'))).isFile()).toBe(true);
    expect((await lstat(path.join(target, 'sub'))).isDirectory()).toBe(true);
    expect(await readFile(path.join(target, 'sub', 'x.txt'), 'utf8')).toBe('inside sub\n');
  }

  it('CLI: restore --overwrite over links to outside replaces them, changes nothing outside, exit 0', async () => {
    const { target, out } = await trap('cli', false);
    const r = await runCli(['restore', backupId, '--target', target, '--overwrite', '--json'], t.env);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    await untouched(out, target);
  }, 120_000);

  it('engine API: the same with a symlinked directory too (not traversed), and a second run over the first restore works', async () => {
    const { target, out } = await trap('api', true);
    await engine.restoreBackup(backupId, { target, overwrite: true });
    await untouched(out, target);
    await engine.restoreBackup(backupId, { target, overwrite: true });
    await untouched(out, target);
    expect(outside).toBe(out);
  }, 120_000);

  it('the writer refuses a symlinked directory (or file) in the way without overwrite, and never traverses it', async () => {
    const target = path.join(t.dir, 'writer-target');
    const out = path.join(t.dir, 'writer-outside');
    await mkdir(out);
    await mkdir(target);
    await symlink(out, path.join(target, 'sub'));
    await writeFile(path.join(out, 'victim'), 'outside');
    await symlink(path.join(out, 'victim'), path.join(target, 'leaf'));
    const strict = new RestoreTree(target, { overwrite: false, preserveSpecialBits: false });
    await expect(strict.createFile(path.join(target, 'sub', 'x.txt'))).rejects.toMatchObject({ code: 'INTEGRITY', message: expect.stringMatching(/not a directory/) });
    await expect(strict.createFile(path.join(target, 'leaf'))).rejects.toMatchObject({ code: 'INTEGRITY' });
    await expect(strict.dir(path.join(target, 'sub', 'deeper'))).rejects.toMatchObject({ code: 'INTEGRITY' });
    expect((await readdir(out)).sort()).toEqual(['victim']);
    expect(await readFile(path.join(out, 'victim'), 'utf8')).toBe('outside');

    const replacing = new RestoreTree(target, { overwrite: true, preserveSpecialBits: false });
    const fh = await replacing.createFile(path.join(target, 'sub', 'x.txt'));
    await fh.close();
    const fh2 = await replacing.createFile(path.join(target, 'leaf'));
    await fh2.write('inside');
    await fh2.close();
    expect((await lstat(path.join(target, 'sub'))).isDirectory()).toBe(true);
    expect((await readdir(out)).sort()).toEqual(['victim']);
    expect(await readFile(path.join(out, 'victim'), 'utf8')).toBe('outside');
    expect(await readlink(path.join(target, 'leaf')).catch(() => 'not a link')).toBe('not a link');
  });

  it('setuid, setgid and sticky bits are dropped by default and kept with --preserve-special-bits', async () => {
    const plain = path.join(t.dir, 'bits-default');
    const r1 = await runCli(['restore', backupId, '--target', plain, '--json'], t.env);
    expect(r1.code).toBe(0);
    expect((await stat(path.join(plain, 'tool'))).mode & 0o7777).toBe(0o755);
    expect((await stat(path.join(plain, 'shared'))).mode & 0o7777).toBe(0o777);

    const kept = path.join(t.dir, 'bits-kept');
    const r2 = await runCli(['restore', backupId, '--target', kept, '--preserve-special-bits', '--json'], t.env);
    expect(r2.code).toBe(0);
    expect((await stat(path.join(kept, 'tool'))).mode & 0o7777).toBe(0o4755);
    expect((await stat(path.join(kept, 'shared'))).mode & 0o7777).toBe(0o3777);

    const api = path.join(t.dir, 'bits-api');
    await engine.restoreBackup(backupId, { target: api });
    expect((await stat(path.join(api, 'tool'))).mode & 0o7777).toBe(0o755);
  }, 120_000);

  it.each(['../x', '/x', 'a/../../x', 'a//b', '.', 'x\\..\\y', 'nul\0'])('refuses the payload name %j before any backup exists', async (name) => {
    const before = (await engine.listBackups({ limit: 1000 })).length;
    await expect(engine.createBackup({ payload: 'data', payloadName: name })).rejects.toMatchObject({ code: 'INVALID', message: expect.stringMatching(/Payload name .* is not allowed/) });
    expect((await engine.listBackups({ limit: 1000 })).length).toBe(before);
  });

  it('an ordinary payload name still works and restores', async () => {
    const b = await engine.createBackup({ payload: { hello: 'world' }, payloadName: 'exports/chat.json' });
    const target = path.join(t.dir, 'payload');
    await engine.restoreBackup(b.backup_id, { target });
    expect(JSON.parse(await readFile(path.join(target, 'exports', 'chat.json'), 'utf8'))).toEqual({ hello: 'world' });
  });
});
