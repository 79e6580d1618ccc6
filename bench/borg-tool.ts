/**
 * borg on the same data, when it is on PATH: one local repository per dataset group, with its cache, config,
 * keys and security dirs under the work dir too. Encryption repokey-blake2; compression zstd level 3 (restic's
 * default is zstd too, so repository sizes compare like with like; borg's own default is lz4).
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { type Env, measure } from './measure';
import { RESTIC_PASSWORD } from './settings';
import { treeSize, type TreeSize } from './system';
import { type BackupFigures, check, figures, type OpFigures, type Tool } from './tool';

export const BORG_COMPRESSION = 'zstd,3';

interface BorgCreate {
  archive: { name: string; duration: number; stats: { deduplicated_size: number; nfiles: number } };
}

export class BorgTool implements Tool {
  readonly name = 'borg';
  readonly copies = 1;
  private readonly env: Env;
  private readonly repo: string;
  private archives = 0;

  constructor(
    private readonly dir: string,
    private readonly binary: string,
  ) {
    this.repo = path.join(dir, 'repo');
    this.env = {
      PATH: process.env.PATH,
      HOME: dir,
      LANG: 'C.UTF-8',
      BORG_PASSPHRASE: RESTIC_PASSWORD,
      BORG_REPO: this.repo,
      BORG_BASE_DIR: dir,
      BORG_CACHE_DIR: path.join(dir, 'cache'),
      BORG_CONFIG_DIR: path.join(dir, 'config'),
      BORG_SECURITY_DIR: path.join(dir, 'security'),
      BORG_KEYS_DIR: path.join(dir, 'keys'),
    };
  }

  async start(): Promise<OpFigures> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
    this.archives = 0;
    const m = await measure(this.binary, ['init', '--encryption=repokey-blake2', this.repo], { env: this.env });
    check(m, 'borg init');
    return figures(m);
  }

  settle(): Promise<OpFigures | null> {
    return Promise.resolve(null);
  }

  async backup(src: string): Promise<BackupFigures> {
    // From inside the tree with ".", so an extract puts the files straight into its target (like PlexiChat).
    const name = `b${++this.archives}`;
    const m = await measure(this.binary, ['create', '--json', '--compression', BORG_COMPRESSION, `::${name}`, '.'], { cwd: src, env: this.env });
    check(m, `borg create ${src}`);
    const doc = JSON.parse(m.stdout) as BorgCreate;
    return { ...figures(m, doc.archive.duration), id: doc.archive.name, added_reported: doc.archive.stats.deduplicated_size, new_objects: null };
  }

  async restore(id: string, target: string): Promise<OpFigures> {
    await mkdir(target, { recursive: true });
    const m = await measure(this.binary, ['extract', `::${id}`], { cwd: target, env: this.env });
    check(m, `borg extract ${id}`);
    return figures(m);
  }

  storage(): Promise<TreeSize> {
    return treeSize(this.repo);
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
