/** What the benchmark runs on and how big: everything comes from the environment, with defaults. */
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const CLI = path.join(REPO_ROOT, 'bin', 'plexichat-backup.mjs');
/**
 * How the installed command starts (its shebang, `#!/usr/bin/env -S [NAME=value …] node [flags …]`): the bench
 * runs `node <flags> CLI` with those variables added to the child's environment, to measure just that (and so
 * that a profiler's flags can be added).
 */
export const CLI_START: { env: Record<string, string>; nodeFlags: string[] } = (() => {
  const words = (/^#!\S*\benv -S (.*)$/.exec(readFileSync(CLI, 'utf8').split('\n', 1)[0]!)?.[1] ?? '').trim().split(/\s+/).filter(Boolean);
  const at = words.indexOf('node');
  if (at < 0) throw new Error(`bench: ${CLI} does not start with #!/usr/bin/env -S … node …`);
  return { env: Object.fromEntries(words.slice(0, at).map((w) => [w.slice(0, w.indexOf('=')), w.slice(w.indexOf('=') + 1)])), nodeFlags: words.slice(at + 1) };
})();
export const RESULTS_FILE = path.join(REPO_ROOT, 'bench', 'results', 'latest.json');

export interface BenchSettings {
  /** Multiplies every dataset size (BENCH_SCALE, default 1.0; 0.05–0.1 for a quick run). */
  scale: number;
  /** Datasets, repositories and restore targets live here (BENCH_DIR, default /tmp/plexichat-bench). */
  workDir: string;
  /** `sync; echo 3 > /proc/sys/vm/drop_caches` before every timed backup and restore (BENCH_DROP_CACHES=0 to skip). */
  dropCaches: boolean;
  /** PlexiChat's replication_factor (BENCH_REPLICATION, default 1: one copy, like restic and borg). */
  replication: number;
  /** The restic binary when it is on PATH (BENCH_RESTIC=0 to skip it). */
  restic: string | null;
  /** The borg binary when it is on PATH (BENCH_BORG=0 to skip it). */
  borg: string | null;
  /** Whether to run the generated datasets (BENCH_DATASETS=0: real trees only). */
  datasets: boolean;
  /** Real directories measured besides the generated datasets (BENCH_TREES=dir1:dir2). */
  trees: TreeSpec[];
  /** Names left out of every real tree (BENCH_TREES_EXCLUDE=node_modules,.next); such a tree is copied without them first. */
  treeExclude: string[];
  /** The parts to run (BENCH_ONLY=compare,list,rebuild,scale,erasure; default all but erasure). */
  only: BenchPart[];
  /** Runs of every measurement (BENCH_RUNS, default 3), the tools taking turns; the table shows medians. */
  runs: number;
}

export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): BenchSettings {
  const scale = Number(env.BENCH_SCALE ?? '1');
  if (!Number.isFinite(scale) || scale <= 0 || scale > 16) throw new Error(`BENCH_SCALE must be a number in (0, 16]; got "${env.BENCH_SCALE}".`);
  const replication = Number(env.BENCH_REPLICATION || '1');
  if (!Number.isInteger(replication) || replication < 1 || replication > 2) {
    throw new Error(`BENCH_REPLICATION must be 1 or 2 (the benchmark installation has two local locations); got "${env.BENCH_REPLICATION}".`);
  }
  const runs = Number(env.BENCH_RUNS ?? '3');
  if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error(`BENCH_RUNS must be a whole number from 1 to 20; got "${env.BENCH_RUNS}".`);
  const trees = parseTrees(env.BENCH_TREES);
  for (const t of trees) {
    if (!statSync(t.dir, { throwIfNoEntry: false })?.isDirectory()) throw new Error(`BENCH_TREES: ${t.dir} is not a directory; give existing directories separated by ":".`);
  }
  return {
    scale,
    runs,
    workDir: path.resolve(env.BENCH_DIR ?? '/tmp/plexichat-bench'),
    dropCaches: env.BENCH_DROP_CACHES !== '0',
    replication,
    restic: env.BENCH_RESTIC === '0' ? null : findOnPath('restic', env.PATH ?? ''),
    borg: env.BENCH_BORG === '0' ? null : findOnPath('borg', env.PATH ?? ''),
    datasets: env.BENCH_DATASETS !== '0',
    trees,
    treeExclude: (env.BENCH_TREES_EXCLUDE ?? '').split(',').map((x) => x.trim()).filter(Boolean),
    only: parseOnly(env.BENCH_ONLY),
  };
}

export const BENCH_PARTS = ['compare', 'list', 'rebuild', 'scale', 'erasure'] as const;
export type BenchPart = (typeof BENCH_PARTS)[number];
/** What runs without BENCH_ONLY; `erasure` (coding vs replication, bench/erasure-bench.ts) is opt-in. */
const DEFAULT_PARTS: BenchPart[] = ['compare', 'list', 'rebuild', 'scale'];

/** BENCH_ONLY: parts separated by commas; empty or unset runs all but erasure. */
export function parseOnly(value: string | undefined): BenchPart[] {
  const parts = (value ?? '').split(',').map((x) => x.trim()).filter(Boolean);
  if (!parts.length) return [...DEFAULT_PARTS];
  for (const p of parts) {
    if (!(BENCH_PARTS as readonly string[]).includes(p)) throw new Error(`BENCH_ONLY takes ${BENCH_PARTS.join(', ')} (separated by commas); got "${p}".`);
  }
  return BENCH_PARTS.filter((p) => parts.includes(p));
}

/** A real directory to measure: where it is, and a short name unique in the run (for labels and work dirs). */
export interface TreeSpec {
  name: string;
  dir: string;
}

/**
 * BENCH_TREES: directories separated by ":" (relative ones resolved against `cwd`), empty parts ignored,
 * repeats dropped. Names are the last path component, made unique with the one before it, then with a number.
 */
export function parseTrees(value: string | undefined, cwd = process.cwd()): TreeSpec[] {
  const dirs = [...new Set((value ?? '').split(':').map((x) => x.trim()).filter(Boolean).map((d) => path.resolve(cwd, d)))];
  const names = new Set<string>();
  return dirs.map((dir) => {
    const parts = dir.split(path.sep).filter(Boolean);
    const last = parts.at(-1) ?? 'root';
    let name = names.has(last) && parts.length > 1 ? `${parts.at(-2)}-${last}` : last;
    for (let i = 2; names.has(name); i++) name = `${last}-${i}`;
    names.add(name);
    return { name, dir };
  });
}

function findOnPath(name: string, pathVar: string): string | null {
  for (const dir of pathVar.split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return null;
}

/** One class of file sizes in a dataset: its share of the bytes, and the size range (drawn log-uniformly). */
export interface SizeClass {
  name: string;
  share: number;
  min: number;
  max: number;
}

/** Total size of each of the two 1 GiB datasets at scale 1. */
export const DATASET_BYTES = GiB;

/** (a) incompressible: many small files, some medium, a few large. */
export const INCOMPRESSIBLE_MIX: SizeClass[] = [
  { name: 'small', share: 0.2, min: 1 * KiB, max: 64 * KiB },
  { name: 'medium', share: 0.35, min: 1 * MiB, max: 16 * MiB },
  { name: 'large', share: 0.45, min: 64 * MiB, max: 256 * MiB },
];

/** (b) chat exports: many small JSON files, some medium, a few large. */
export const JSON_MIX: SizeClass[] = [
  { name: 'small', share: 0.3, min: 4 * KiB, max: 256 * KiB },
  { name: 'medium', share: 0.4, min: 1 * MiB, max: 16 * MiB },
  { name: 'large', share: 0.3, min: 32 * MiB, max: 128 * MiB },
];

/** Small files per directory in (a) and (b). */
export const FILES_PER_DIR = 500;

/** (d) many small files. */
export const SMALL_TREE = { files: 200_000, perDir: 1000, min: 100, max: 4 * KiB };

/** (c) json-shifted: bytes inserted near the start of every file, and the share of files also changed. */
export const SHIFT = { minInsert: 1, maxInsert: 8, changedShare: 0.01, changedBytes: 4 * KiB };

/** The peak RSS a backup of the small-file tree must stay under. */
export const SMALL_TREE_RSS_LIMIT = 400 * MiB;

/** Fixed keys: runs are reproducible, and nothing here protects real data. */
export const PLEXICHAT_KEY = 'b3c1e0f2a4d5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f';
export const RESTIC_PASSWORD = 'plexichat-bench';
