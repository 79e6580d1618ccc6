/**
 * The installation the CLI finds, as a user meets it: no PLEXICHAT_DATA_DIR, run from whatever folder.
 * The CLI runs as an ordinary user (nobody, when the tests run as root) with HOME in a temporary folder,
 * so its defaults are ~/.local/share/plexichat and ~/.config/plexichat/master.key there.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupMetadata } from '../../server/engine/types';
import { runCli } from '../support/cli';

const asRoot = process.getuid?.() === 0;
/** An ordinary user to run the CLI as: nobody when we are root, else ourselves. */
const user = asRoot ? { uid: 65534, gid: 65534 } : {};
const userName = asRoot ? 'nobody' : userInfo().username;
const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

let tmp: string;
let home: string;
let workA: string;
let workB: string;
let src: string;

/** The CLI's environment: a HOME and a PATH, nothing that names an installation. */
const env = (extra: Record<string, string> = {}) => ({ PATH: process.env.PATH, HOME: home, PLEXICHAT_CATALOG_IDLE_MS: '10000', ...extra });
const cli = (args: string[], cwd: string, extra: Record<string, string> = {}) => runCli(args, env(extra), { cwd, ...user });

beforeAll(async () => {
  tmp = await mkdtemp(path.join(tmpdir(), 'px-install-'));
  [home, workA, workB, src] = ['home', 'work-a', 'work-b', 'src'].map((d) => path.join(tmp, d)) as [string, string, string, string];
  for (const d of [home, workA, workB, src]) await mkdir(d);
  await writeFile(path.join(src, 'notes.txt'), 'what the admin wrote\n'.repeat(500));
  if (asRoot) execFileSync('chown', ['-R', '65534:65534', tmp]);
});

afterAll(async () => {
  await new Promise((r) => setTimeout(r, 10_500)); // the embedded catalog daemons stop 10 s after their last client
  await rm(tmp, { recursive: true, force: true });
});

describe('the installation the CLI uses', () => {
  it('on a fresh machine, a read-only command exits 4, names where it looked and creates nothing', async () => {
    const dataDir = path.join(home, '.local', 'share', 'plexichat');
    const keyFile = path.join(home, '.config', 'plexichat', 'master.key');
    for (const args of [['list', '--json'], ['stats'], ['show', 'b-nonexistent'], ['verify', 'b-nonexistent'], ['health-check'], ['keys', 'status']]) {
      const r = await cli(args, workA);
      expect([args.join(' '), r.code], r.stderr).toEqual([args.join(' '), 4]);
      expect(r.stderr).toMatch(new RegExp(`no catalog in ${esc(dataDir)}; no master key file ${esc(keyFile)}.*PLEXICHAT_DATA_DIR`));
    }
    const list = await cli(['list', '--json'], workA);
    expect(list.json).toMatchObject({ error: { code: 'NOT_FOUND' } });
    expect(await readdir(home)).toEqual([]);
    expect(await readdir(workA)).toEqual([]);
  }, 240_000);

  it('is the same installation from any folder: a backup made in one is listed from another, with its creator', async () => {
    const made = await cli(['backup', src, '--json'], workA);
    expect(made.code, made.stderr).toBe(0);
    const keyFile = path.join(home, '.config', 'plexichat', 'master.key');
    expect(made.stderr).toContain(`generated a new master key at ${keyFile}`);
    const meta = made.json as BackupMetadata;
    // The console's "Created by": the OS user who ran the CLI.
    expect(meta).toMatchObject({ user_id: `cli:${userName}`, metadata: { created_by: `cli:${userName}`, via: 'cli' } });

    const listed = await cli(['list', '--json'], workB);
    expect(listed.code, listed.stderr).toBe(0);
    expect((listed.json as BackupMetadata[]).map((b) => b.backup_id)).toEqual([meta.backup_id]);
    expect(existsSync(path.join(home, '.local', 'share', 'plexichat', 'catalog'))).toBe(true);
    for (const work of [workA, workB]) expect(await readdir(work)).toEqual([]); // no ./.plexichat anywhere
    // The key: apart from the data, 0600 in a 0700 folder.
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600);
    expect((await stat(path.dirname(keyFile))).mode & 0o777).toBe(0o700);
    expect(existsSync(path.join(home, '.local', 'share', 'plexichat', 'master.key'))).toBe(false);

    // XDG_DATA_HOME and XDG_CONFIG_HOME move the defaults: there is no installation there.
    const xdg = await cli(['list'], workB, { XDG_DATA_HOME: path.join(tmp, 'xdg-data'), XDG_CONFIG_HOME: path.join(tmp, 'xdg-config') });
    expect(xdg.code).toBe(4);
    expect(xdg.stderr).toContain(`no catalog in ${path.join(tmp, 'xdg-data', 'plexichat')}`);
  }, 300_000);

  it('refuses a key file inside a storage location, naming both paths', async () => {
    const disk = path.join(tmp, 'disk');
    const cfg = path.join(tmp, 'disk-config.json');
    await writeFile(cfg, JSON.stringify({ replication_factor: 1, storage_locations: [{ name: 'disk', type: 'local', path: disk }] }));
    if (asRoot) execFileSync('chown', ['65534:65534', cfg]);
    const keyFile = path.join(disk, 'keys', 'master.key');
    const r = await cli(['backup', src], workA, { PLEXICHAT_CONFIG: cfg, PLEXICHAT_DATA_DIR: path.join(tmp, 'disk-data'), PLEXICHAT_KEY_FILE: keyFile });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`key_file ${keyFile} (from environment variable PLEXICHAT_KEY_FILE) is inside storage location "disk" ${disk}`);
    expect(existsSync(keyFile)).toBe(false);
    expect(existsSync(disk)).toBe(false);
  }, 120_000);

  it('keeps opening an installation whose key an older release put in data_dir/master.key, with a hint to move it', async () => {
    const data = path.join(tmp, 'old');
    const made = await cli(['backup', src, '--json'], workA, { PLEXICHAT_DATA_DIR: data, PLEXICHAT_KEY_FILE: path.join(tmp, 'old-keys', 'master.key') });
    expect(made.code, made.stderr).toBe(0);
    const id = (made.json as BackupMetadata).backup_id;
    // The layout of older releases: the generated key beside the catalog.
    await rename(path.join(tmp, 'old-keys', 'master.key'), path.join(data, 'master.key'));

    const verified = await cli(['verify', id, '--read-data', '--json'], workB, { PLEXICHAT_DATA_DIR: data });
    expect(verified.code, verified.stderr).toBe(0);
    expect(verified.json).toMatchObject({ status: 'healthy', all_shards_valid: true, read_data: true });
    expect(verified.stderr).toMatch(new RegExp(`NOTE: The master key is in ${esc(path.join(data, 'master.key'))}, beside the catalog.*mv ${esc(path.join(data, 'master.key'))} ${esc(path.join(home, '.config', 'plexichat'))}/master-[0-9a-f]{12}\\.key`));
    expect(existsSync(path.join(home, '.config', 'plexichat'))).toBe(true); // only the first test's key folder, no new key for "old"
    expect((await readdir(path.join(home, '.config', 'plexichat'))).filter((f) => f.startsWith('master-'))).toEqual([]);
  }, 300_000);
});
