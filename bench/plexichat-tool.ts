/**
 * PlexiChat through its CLI (`node bin/plexichat-backup.mjs … --json`), one fresh installation per dataset
 * group: its own data dir, storage locations and embedded catalog, and a fixed master key.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../server/config';
import type { BackupMetadata, RestoreResult } from '../server/engine/types';
import { type Env, measure, type Measured } from './measure';
import { isAlive, readPidFile } from './procfs';
import { CLI, CLI_START, PLEXICHAT_KEY, REPO_ROOT } from './settings';
import { treeSize, type TreeSize } from './system';
import { type BackupFigures, check, figures, type OpFigures, type Tool } from './tool';

export class PlexichatTool implements Tool {
  readonly name = 'plexichat';
  readonly copies: number;
  private readonly env: Env;
  private readonly storageRoot: string;
  private readonly lockFile: string;

  /**
   * @param dir a directory of its own (emptied first)
   * @param replication replication_factor, or null for the shipped default
   * @param profileDir when set, every CLI process writes a V8 CPU profile there
   */
  constructor(
    private readonly dir: string,
    private readonly replication: number | null,
    private readonly profileDir: string | null = null,
  ) {
    const dataDir = path.join(dir, 'data');
    this.env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PLEXICHAT_DATA_DIR: dataDir,
      PLEXICHAT_CONFIG: path.join(dir, 'config.json'),
      PLEXICHAT_ENCRYPTION_KEY: PLEXICHAT_KEY,
      // The catalog server stays up for the whole group; close() stops it.
      PLEXICHAT_CATALOG_IDLE_MS: '3600000',
    };
    const config = loadConfig({ ...this.env, PLEXICHAT_CONFIG: undefined, ...(replication ? { PLEXICHAT_REPLICATION_FACTOR: String(replication) } : {}) });
    this.copies = config.replication_factor;
    this.storageRoot = config.storage_root;
    this.lockFile = path.join(dataDir, 'catalog.lock');
  }

  async start(): Promise<OpFigures> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
    await writeFile(path.join(this.dir, 'config.json'), JSON.stringify(this.replication ? { replication_factor: this.replication } : {}));
    // A fresh installation's first command (a backup: `list` creates no installation) starts the catalog
    // server, migrates it and creates the repositories; an empty directory keeps it to just that.
    const empty = path.join(this.dir, 'empty');
    await mkdir(empty);
    const m = await this.cli(['backup', empty, '--json']);
    check(m, `plexichat backup ${empty} (new installation)`);
    return figures(m);
  }

  async settle(): Promise<OpFigures | null> {
    const pid = readPidFile(this.lockFile);
    if (pid !== null) await stopProcess(pid);
    const m = await this.cli(['list', '--json']);
    check(m, 'plexichat list');
    return figures(m);
  }

  async backup(src: string, opts: { incremental?: boolean } = {}): Promise<BackupFigures> {
    const m = await this.cli(['backup', src, ...(opts.incremental ? ['--type', 'incremental'] : []), '--json']);
    check(m, `plexichat backup ${src}`);
    const meta = parseJson<BackupMetadata>(m, 'backup_id');
    if (meta.status !== 'completed') throw new Error(`plexichat backup ${src} ended ${meta.status}: ${meta.error ?? ''}`);
    return { ...figures(m, meta.duration_seconds), id: meta.backup_id, added_reported: meta.new_bytes, new_objects: meta.new_shard_count };
  }

  async restore(id: string, target: string): Promise<OpFigures> {
    const m = await this.cli(['restore', id, '--target', target, '--json']);
    check(m, `plexichat restore ${id}`);
    return figures(m, parseJson<RestoreResult>(m, 'backup_id').duration_seconds);
  }

  storage(): Promise<TreeSize> {
    return treeSize(this.storageRoot, ['.tmp']);
  }

  async close(): Promise<void> {
    const pid = readPidFile(this.lockFile);
    if (pid !== null) await stopProcess(pid);
    await rm(this.dir, { recursive: true, force: true });
  }

  private cli(args: string[]): Promise<Measured> {
    const prof = this.profileDir ? ['--cpu-prof', '--cpu-prof-dir', path.join(this.profileDir, args[0] ?? 'cli')] : [];
    return measure(process.execPath, [...CLI_START.nodeFlags, ...prof, CLI, ...args], { cwd: REPO_ROOT, env: { ...this.env, ...CLI_START.env }, helperPidFile: this.lockFile });
  }
}

function parseJson<T>(m: Measured, key: string): T {
  const doc: unknown = JSON.parse(m.stdout);
  if (typeof doc !== 'object' || doc === null || !(key in doc)) throw new Error(`unexpected CLI output: ${m.stdout.slice(0, 500)}`);
  return doc as T;
}

/** SIGTERM, then SIGKILL if it has not gone within 15 s. Only ever the pid we were given. */
async function stopProcess(pid: number): Promise<void> {
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}
