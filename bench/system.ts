/** Machine facts, the page cache, and sizing of directory trees. */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { lstat, opendir } from 'node:fs/promises';
import { availableParallelism, cpus, release, totalmem } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './settings';

export interface MachineFacts {
  nproc: number;
  cpu_model: string;
  mem_total_bytes: number;
  kernel: string;
  node_version: string;
  restic_version: string | null;
  borg_version: string | null;
  plexichat_commit: string | null;
}

export function machineFacts(restic: string | null, borg: string | null = null): MachineFacts {
  return {
    nproc: availableParallelism(),
    cpu_model: cpus()[0]?.model ?? 'unknown',
    mem_total_bytes: totalmem(),
    kernel: release(),
    node_version: process.version,
    restic_version: restic ? firstLine(restic, ['version']) : null,
    borg_version: borg ? firstLine(borg, ['--version']) : null,
    plexichat_commit: firstLine('git', ['-C', REPO_ROOT, 'rev-parse', '--short', 'HEAD']),
  };
}

function firstLine(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? (r.stdout.split('\n')[0]?.trim() ?? null) : null;
}

/** Writes dirty pages out and empties the page cache; true when the kernel accepted it and what stays cached is what a drop cannot free. */
export function dropCaches(): boolean {
  spawnSync('sync');
  const before = cachedBytes();
  try {
    writeFileSync('/proc/sys/vm/drop_caches', '3');
  } catch {
    return false;
  }
  const after = cachedBytes();
  // What a drop cannot free: shared memory (tmpfs, a PostgreSQL's shared buffers: 80 MiB here while the test
  // database ran) and the files running programs map. A drop right after another frees nothing more, and
  // was once taken for a drop that did not happen.
  return before === null || after === null || after < before || after - (meminfoBytes('Shmem') ?? 0) < 256 * 1024 * 1024;
}

function cachedBytes(): number | null {
  return meminfoBytes('Cached');
}

function meminfoBytes(field: 'Cached' | 'Shmem'): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'));
    return m?.[1] ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export interface TreeSize {
  files: number;
  bytes: number;
}

/** Regular files and their bytes under `root`, skipping directories named in `skip`. */
export async function treeSize(root: string, skip: string[] = []): Promise<TreeSize> {
  const out: TreeSize = { files: 0, bytes: 0 };
  const walk = async (dir: string): Promise<void> => {
    for await (const d of await opendir(dir)) {
      const abs = path.join(dir, d.name);
      if (d.isDirectory()) {
        if (!skip.includes(d.name)) await walk(abs);
      } else if (d.isFile()) {
        out.files++;
        out.bytes += (await lstat(abs)).size;
      }
    }
  };
  await walk(root);
  return out;
}
