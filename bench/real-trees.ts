/**
 * Real directories (BENCH_TREES): each is copied into <work dir>/trees/<name> at the start of a benchmark
 * (tar, keeping modes, times, symlinks and hard links; names in BENCH_TREES_EXCLUDE left out), so every tool
 * and every run reads the same bytes even when the machine changes the original meanwhile. The copy's
 * regular files are hashed (size + SHA-256) and its symlinks' targets recorded, for checking restores.
 */
import { spawn } from 'node:child_process';
import { mkdir, opendir, readlink, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dataset } from './datasets';
import type { BenchSettings, TreeSpec } from './settings';
import type { Sums } from './tree-writer';
import { hashFile } from './verify';

const HASH_CONCURRENCY = 4;

export async function prepareTrees(s: BenchSettings, log: (line: string) => void): Promise<Dataset[]> {
  const out: Dataset[] = [];
  for (const t of s.trees) out.push(await prepareTree(s, t, log));
  return out;
}

async function prepareTree(s: BenchSettings, t: TreeSpec, log: (line: string) => void): Promise<Dataset> {
  const base = path.join(s.workDir, 'trees');
  const dir = path.join(base, t.name);
  const sumsFile = path.join(base, `${t.name}.sums.json`);
  const started = performance.now();
  log(`tree ${t.name}: copying ${t.dir}${s.treeExclude.length ? ` without ${s.treeExclude.join(', ')}` : ''} to ${dir} …`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  await copyTree(t.dir, dir, s.treeExclude);
  const { sums, files, links, bytes, other } = await sumTree(dir);
  await writeFile(sumsFile, JSON.stringify(sums));
  const seconds = (performance.now() - started) / 1000;
  log(`tree ${t.name}: ${files} files, ${links} symlinks, ${(bytes / 1048576).toFixed(0)} MiB${other ? `, ${other} special files (not compared)` : ''}, copied and hashed in ${seconds.toFixed(1)} s`);
  return { name: t.name, dir, files, bytes, sumsFile, generatedSeconds: seconds, extra: { symlinks: links, special_files: other }, source: t.dir };
}

/** `tar -C src -cf - . | tar -C dst -xpf -`, with --exclude=NAME for each excluded name (at any depth). */
function copyTree(src: string, dst: string, exclude: string[]): Promise<void> {
  const script = 'src=$1; dst=$2; shift 2; set -o pipefail; tar -C "$src" "$@" -cf - . | tar -C "$dst" -xpf -';
  const args = ['-c', script, 'sh', src, dst, ...exclude.map((x) => `--exclude=${x}`)];
  return new Promise((resolve, reject) => {
    const child = spawn('bash', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-4000)));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`copying ${src} to ${dst} with tar failed (exit ${code}): ${err.trim()}; check that the tree is readable and the work dir has room.`))));
  });
}

/** Sizes and hashes of every regular file, targets of every symlink; other types (sockets, fifos) only counted. */
export async function sumTree(root: string): Promise<{ sums: Sums; files: number; links: number; bytes: number; other: number }> {
  const sums: Sums = {};
  const files: string[] = [];
  let links = 0;
  let other = 0;
  const walk = async (dir: string, rel: string): Promise<void> => {
    for await (const d of await opendir(dir)) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      const abs = path.join(dir, d.name);
      if (d.isDirectory()) await walk(abs, r);
      else if (d.isFile()) files.push(r);
      else if (d.isSymbolicLink()) {
        sums[r] = { size: 0, sha256: '', link: await readlink(abs) };
        links++;
      } else other++;
    }
  };
  await walk(root, '');
  let bytes = 0;
  const queue = [...files];
  const worker = async () => {
    for (let r = queue.pop(); r !== undefined; r = queue.pop()) {
      const sum = await hashFile(path.join(root, ...r.split('/')));
      sums[r] = sum;
      bytes += sum.size;
    }
  };
  await Promise.all(Array.from({ length: HASH_CONCURRENCY }, worker));
  return { sums, files: files.length, links, bytes, other };
}
