/**
 * Where each timed restore writes. On ext4, a restore's time depends on what the file system went through
 * before: the inode allocator walks past inodes freed recently, so a restore right after another restore
 * was deleted (each is deleted once verified) paid for that deletion. On this project's VM the same build
 * restoring the same backup three times in a row took 4.5, 6.7 and 7.0 s, and the tools' restore ratios
 * swung between 0.83 and 1.19 on unchanged code. So, where it can (root, mkfs.ext4, loop mounts), every
 * restore gets a new ext4 file system of its own: an image file in the work dir, made and mounted before the
 * timed operation (and before the page cache is dropped), unmounted and deleted after the check. Elsewhere,
 * or with BENCH_FRESH_FS=0, restores go to the work dir as before, and the report says which.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export type RestoreTargetMode = 'fresh-ext4' | 'work-dir';

export interface RestoreTarget {
  /** The directory to restore into (it does not exist yet). */
  dir: string;
  /** Removes the restored tree (and the file system made for it). */
  release(): Promise<void>;
}

const MiB = 1024 * 1024;
/** Makes and mounts the file system (shared with bench/paired.sh). */
const FRESH_EXT4 = fileURLToPath(new URL('./fresh-ext4.sh', import.meta.url));

export class RestoreTargets {
  private constructor(
    private readonly workDir: string,
    readonly mode: RestoreTargetMode,
    /** Why the fresh file systems are not used (null when they are). */
    readonly reason: string | null,
  ) {}

  /** Fresh ext4 file systems when this process can make and mount them (tried once, here), else the work dir. */
  static async detect(workDir: string, env: Record<string, string | undefined> = process.env): Promise<RestoreTargets> {
    if (env.BENCH_FRESH_FS === '0') return new RestoreTargets(workDir, 'work-dir', 'BENCH_FRESH_FS=0');
    if (process.getuid?.() !== 0) return new RestoreTargets(workDir, 'work-dir', 'not root (loop mounts need it)');
    const probe = new RestoreTargets(workDir, 'fresh-ext4', null);
    try {
      const t = await probe.freshFs('probe', 64 * MiB, 1000);
      await t.release();
      return probe;
    } catch (err) {
      return new RestoreTargets(workDir, 'work-dir', (err as Error).message);
    }
  }

  /** A target for restoring `bytes` in `files` files, named `name`. */
  async prepare(name: string, bytes: number, files: number): Promise<RestoreTarget> {
    if (this.mode === 'fresh-ext4') return this.freshFs(name, bytes, files);
    const dir = path.join(this.workDir, 'restore', name);
    await rm(dir, { recursive: true, force: true });
    await mkdir(path.dirname(dir), { recursive: true });
    return { dir, release: () => rm(dir, { recursive: true, force: true }) };
  }

  /** An ext4 image sized for the data, made and mounted by bench/fresh-ext4.sh (bench/paired.sh uses it too). */
  private async freshFs(name: string, bytes: number, files: number): Promise<RestoreTarget> {
    const base = path.join(this.workDir, 'restore-fs');
    const image = path.join(base, `${name}.img`);
    const mnt = path.join(base, name);
    await mkdir(mnt, { recursive: true });
    unmount(mnt);
    await rm(image, { force: true });
    run('bash', [FRESH_EXT4, image, mnt, String(Math.ceil(bytes)), String(files)]);
    return {
      dir: path.join(mnt, 'restored'),
      release: async () => {
        unmount(mnt);
        await rm(image, { force: true });
        await rm(mnt, { recursive: true, force: true });
      },
    };
  }
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.error) throw new Error(`${cmd}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${(r.stderr || r.stdout).trim() || `exit ${r.status}`}`);
}

function unmount(dir: string): void {
  if (spawnSync('mountpoint', ['-q', dir]).status === 0) run('umount', [dir]);
}
