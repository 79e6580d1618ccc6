/** restic on the same data: one local repository per dataset group, its cache under the work dir too. */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { type Env, measure } from './measure';
import { RESTIC_PASSWORD } from './settings';
import { treeSize, type TreeSize } from './system';
import { type BackupFigures, check, figures, type OpFigures, type Tool } from './tool';

interface ResticSummary {
  message_type: 'summary';
  data_added: number;
  data_blobs: number;
  total_duration: number;
  snapshot_id: string;
}

export class ResticTool implements Tool {
  readonly name = 'restic';
  readonly copies = 1;
  private readonly env: Env;
  private readonly repo: string;

  constructor(
    private readonly dir: string,
    private readonly binary: string,
  ) {
    this.repo = path.join(dir, 'repo');
    this.env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      RESTIC_PASSWORD,
      RESTIC_REPOSITORY: this.repo,
      RESTIC_CACHE_DIR: path.join(dir, 'cache'),
    };
  }

  async start(): Promise<OpFigures> {
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
    const m = await measure(this.binary, ['init'], { env: this.env });
    check(m, 'restic init');
    return figures(m);
  }

  settle(): Promise<OpFigures | null> {
    return Promise.resolve(null);
  }

  async backup(src: string): Promise<BackupFigures> {
    // From inside the tree with ".", so a restore puts the files straight into its target (like PlexiChat).
    const m = await measure(this.binary, ['backup', '--json', '--quiet', '.'], { cwd: src, env: this.env });
    check(m, `restic backup ${src}`);
    const summary = m.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { message_type?: string })
      .find((d): d is ResticSummary => d.message_type === 'summary');
    if (!summary) throw new Error(`restic backup ${src} printed no summary: ${m.stdout.slice(-500)}`);
    return { ...figures(m, summary.total_duration), id: summary.snapshot_id, added_reported: summary.data_added, new_objects: summary.data_blobs };
  }

  async restore(id: string, target: string): Promise<OpFigures> {
    const m = await measure(this.binary, ['restore', id, '--target', target], { env: this.env });
    check(m, `restic restore ${id}`);
    return figures(m);
  }

  storage(): Promise<TreeSize> {
    return treeSize(this.repo);
  }

  async close(): Promise<void> {
    await rm(this.dir, { recursive: true, force: true });
  }
}
