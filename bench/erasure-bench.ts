/**
 * BENCH_ONLY=erasure: erasure coding (2+1, 4+2) against replication (2 and 3 copies) — the bytes stored and
 * backup/restore throughput, side by side, each on its own set of local locations (as many as it needs), in
 * process through the engine (the CLI's per-process start would dominate at these sizes). The dataset:
 * BENCH_EC_MB MiB (default 64) of files, half compressible text, half random bytes, made once. Every restore is
 * compared with the source. Runs: BENCH_RUNS (median, min–max). Results: bench/results/erasure-latest.json.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../server/config';
import { BackupEngine } from '../server/engine/engine';
import { type BenchSettings, MiB, REPO_ROOT } from './settings';
import { fmtSpread, type Spread, spreadOf } from './stats';

export const ERASURE_RESULTS_FILE = path.join(REPO_ROOT, 'bench', 'results', 'erasure-latest.json');

interface Variant {
  name: string;
  locations: number;
  settings: Record<string, unknown>;
}

const VARIANTS: Variant[] = [
  { name: 'replication 2', locations: 2, settings: { replication_factor: 2 } },
  { name: 'replication 3', locations: 3, settings: { replication_factor: 3 } },
  { name: 'erasure 2+1', locations: 3, settings: { replication_factor: 2, erasure_coding: { data_shards: 2, parity_shards: 1 } } },
  { name: 'erasure 4+2', locations: 6, settings: { replication_factor: 2, erasure_coding: { data_shards: 4, parity_shards: 2 } } },
];

interface VariantResult {
  name: string;
  /** Bytes under data/ in every location, after the backup. */
  stored_bytes: number;
  /** stored_bytes over the backup's own stored size (one copy of each shard). */
  overhead: number;
  backup_mib_s: Spread | null;
  restore_mib_s: Spread | null;
}

async function bytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(dir, e.name);
    total += e.isDirectory() ? await bytesUnder(p) : (await stat(p)).size;
  }
  return total;
}

/** BENCH_EC_MB MiB in 4 MiB files: even ones text-like (compress), odd ones random (do not). */
async function ensureDataset(dir: string, mib: number): Promise<{ bytes: number; digest: string }> {
  await mkdir(dir, { recursive: true });
  const files = Math.max(1, Math.round(mib / 4));
  const h = createHash('sha256');
  let bytes = 0;
  for (let i = 0; i < files; i++) {
    const file = path.join(dir, `f${String(i).padStart(4, '0')}.bin`);
    let data = await readFile(file).catch(() => null);
    if (!data) {
      data = i % 2 ? randomBytes(4 * MiB) : Buffer.from(Array.from({ length: 4 * MiB / 64 }, (_, j) => `line ${i}-${j} ${randomBytes(8).toString('hex')} lorem ipsum\n`.padEnd(64, '.')).join(''));
      await writeFile(file, data);
    }
    h.update(data);
    bytes += data.length;
  }
  return { bytes, digest: h.digest('hex') };
}

async function digestOf(dir: string): Promise<string> {
  const h = createHash('sha256');
  for (const name of (await readdir(dir)).sort()) h.update(await readFile(path.join(dir, name)));
  return h.digest('hex');
}

async function runVariant(v: Variant, work: string, src: string, data: { bytes: number; digest: string }, runs: number, log: (l: string) => void): Promise<VariantResult> {
  const backup: number[] = [];
  const restore: number[] = [];
  let stored = 0;
  let oneCopy = 0;
  for (let run = 0; run < runs; run++) {
    const dir = path.join(work, v.name.replace(/\W+/g, '-'));
    await rm(dir, { recursive: true, force: true });
    const locations = Array.from({ length: v.locations }, (_, i) => ({ name: `l${i}`, type: 'local', path: path.join(dir, `l${i}`), priority: 10 + i }));
    const cfgFile = path.join(dir, 'config.json');
    await mkdir(dir, { recursive: true });
    await writeFile(cfgFile, JSON.stringify({ storage_locations: locations, enable_deduplication: true, ...v.settings }));
    const env = { PLEXICHAT_DATA_DIR: path.join(dir, 'data'), PLEXICHAT_CONFIG: cfgFile, PLEXICHAT_ENCRYPTION_KEY: 'ab'.repeat(32), PLEXICHAT_KEY_FILE: path.join(dir, 'master.key'), HOME: dir, PATH: process.env.PATH };
    const engine = await BackupEngine.open(loadConfig(env), { log: () => undefined });
    try {
      let t = performance.now();
      const b = await engine.createBackup({ paths: [src] });
      backup.push(data.bytes / MiB / ((performance.now() - t) / 1000));
      stored = (await Promise.all(locations.map((l) => bytesUnder(path.join(l.path, 'data'))))).reduce((a, x) => a + x, 0);
      oneCopy = (await engine.getShardMap(b.backup_id)).reduce((a, s) => a + s.stored_size, 0);
      const target = path.join(dir, 'restore');
      t = performance.now();
      await engine.restoreBackup(b.backup_id, { target });
      restore.push(data.bytes / MiB / ((performance.now() - t) / 1000));
      if ((await digestOf(target)) !== data.digest) throw new Error(`${v.name}: the restore differs from the source`);
    } finally {
      await engine.close();
    }
    log(`erasure: ${v.name} run ${run + 1}/${runs}: backup ${backup.at(-1)!.toFixed(1)} MiB/s, restore ${restore.at(-1)!.toFixed(1)} MiB/s, stored ${(stored / MiB).toFixed(1)} MiB`);
  }
  return { name: v.name, stored_bytes: stored, overhead: oneCopy ? stored / oneCopy : 0, backup_mib_s: spreadOf(backup), restore_mib_s: spreadOf(restore) };
}

export async function runErasureBench(s: BenchSettings, log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const mib = Number(env.BENCH_EC_MB ?? '64');
  if (!Number.isFinite(mib) || mib < 4 || mib > 65536) throw new Error(`BENCH_EC_MB must be a number of MiB from 4 to 65536; got "${env.BENCH_EC_MB}".`);
  const work = path.join(s.workDir, 'erasure');
  const src = path.join(work, `dataset-${mib}`);
  const data = await ensureDataset(src, mib);
  const results: VariantResult[] = [];
  try {
    for (const v of VARIANTS) results.push(await runVariant(v, work, src, data, s.runs, log));
  } catch (err) {
    log(`erasure: FAILED: ${(err as Error).message}`);
    return 1;
  }
  const lines = [
    `Erasure coding vs replication: ${(data.bytes / MiB).toFixed(0)} MiB (half text, half random), ${s.runs} run(s), median (min–max)`,
    `${'variant'.padEnd(14)} ${'stored MiB'.padStart(10)} ${'× one copy'.padStart(10)}  ${'backup MiB/s'.padEnd(22)} restore MiB/s`,
    ...results.map((r) => `${r.name.padEnd(14)} ${(r.stored_bytes / MiB).toFixed(1).padStart(10)} ${r.overhead.toFixed(2).padStart(10)}  ${fmtSpread(r.backup_mib_s).padEnd(22)} ${fmtSpread(r.restore_mib_s)}`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  await mkdir(path.dirname(ERASURE_RESULTS_FILE), { recursive: true });
  await writeFile(ERASURE_RESULTS_FILE, `${JSON.stringify({ generated_at: new Date().toISOString(), dataset_bytes: data.bytes, runs: s.runs, results }, null, 2)}\n`);
  return 0;
}
