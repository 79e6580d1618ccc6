/**
 * The catalog rebuild benchmark (issue 11, "Rebuild that is fast"): `recover-catalog` on a local repository
 * of 10,000 and 100,000 data shards (BENCH_REBUILD_SHARDS), with the catalog lost (a fresh, empty catalog
 * before every run), in the default mode and with --read-data. The repository is made once per size by
 * bench/rebuild-repo.ts (valid objects through the engine's codec, tiny payloads) and kept under
 * <BENCH_DIR>/rebuild. Every rebuild is a separate CLI process measured like the other operations (wall
 * time, peak RSS, CPU, the catalog server's share, other processes' CPU), plus the load average.
 *
 * `npm run bench` runs it after the backup/restore table; `BENCH_ONLY=rebuild npm run bench` (or
 * `npm run bench:rebuild`) runs it alone. Results: bench/results/rebuild-latest.json.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import path from 'node:path';
import type { RecoverReport } from '../server/engine/maintenance/recover-catalog';
import { type Env, measure, type Measured } from './measure';
import { isAlive, readPidFile } from './procfs';
import { FILES_PER_SHARD, type GeneratedRepo, GENERATOR_VERSION, PAYLOAD_MAX, PAYLOAD_MIN } from './rebuild-repo';
import { type BenchSettings, CLI, CLI_START, MiB, PLEXICHAT_KEY, REPO_ROOT } from './settings';
import { dropCaches, type MachineFacts } from './system';
import { check, figures, type OpFigures } from './tool';

export const REBUILD_RESULTS_FILE = path.join(REPO_ROOT, 'bench', 'results', 'rebuild-latest.json');
const GENERATOR = path.join(REPO_ROOT, 'bench', 'rebuild-repo.ts');
const EMPTY_CATALOG = path.join(REPO_ROOT, 'bench', 'empty-catalog.ts');
/** Issue 11's target: a repository of 100,000 shards rebuilt in under 60 s from local disk. */
const TARGET = { shards: 100_000, seconds: 60 };

export interface RebuildSettings {
  /** Data shards of each repository (BENCH_REBUILD_SHARDS, default "10000,100000"). */
  sizes: number[];
  /** New data shards per backup (BENCH_REBUILD_SHARDS_PER_BACKUP, default 1000: 10 and 100 backups). */
  perBackup: number;
  /** Runs of each mode for sizes up to 10,000 shards (BENCH_RUNS) and above (BENCH_REBUILD_LARGE_RUNS, default 1). */
  runs: number;
  largeRuns: number;
  dropCaches: boolean;
}

export function rebuildSettings(s: BenchSettings, env: NodeJS.ProcessEnv = process.env): RebuildSettings {
  const sizes = (env.BENCH_REBUILD_SHARDS ?? '10000,100000').split(',').map((x) => Number(x.trim()));
  if (!sizes.length || sizes.some((n) => !Number.isInteger(n) || n < 1 || n > 10_000_000)) throw new Error(`BENCH_REBUILD_SHARDS must be shard counts separated by commas; got "${env.BENCH_REBUILD_SHARDS}".`);
  const perBackup = Number(env.BENCH_REBUILD_SHARDS_PER_BACKUP ?? '1000');
  if (!Number.isInteger(perBackup) || perBackup < 1) throw new Error(`BENCH_REBUILD_SHARDS_PER_BACKUP must be a positive whole number; got "${env.BENCH_REBUILD_SHARDS_PER_BACKUP}".`);
  const largeRuns = Number(env.BENCH_REBUILD_LARGE_RUNS ?? '1');
  if (!Number.isInteger(largeRuns) || largeRuns < 1 || largeRuns > 20) throw new Error(`BENCH_REBUILD_LARGE_RUNS must be a whole number from 1 to 20; got "${env.BENCH_REBUILD_LARGE_RUNS}".`);
  return { sizes, perBackup, runs: s.runs, largeRuns, dropCaches: s.dropCaches };
}

type Mode = 'default' | 'read-data';

export interface RebuildRun extends OpFigures {
  mode: Mode;
  run: number;
  /** Load average (1, 5, 15 min) just before and just after the timed rebuild. */
  load_before: number[];
  load_after: number[];
  page_cache_dropped: boolean | null;
  report: Omit<RecoverReport, 'damaged_objects' | 'unreferenced_objects'> & { damaged_objects: number };
  /** Empty when the rebuild brought back exactly what the generator wrote. */
  problems: string[];
}

export interface RebuildSize {
  shards: number;
  repo: GeneratedRepo;
  /** Seconds the generator took, or null when the repository was reused. */
  generated_seconds: number | null;
  runs: RebuildRun[];
  errors: string[];
}

export interface RebuildReport {
  generated_at: string;
  total_seconds: number;
  settings: RebuildSettings;
  machine: MachineFacts;
  repository: { payload_bytes: [number, number]; files_per_shard: number; generator_version: number };
  sizes: RebuildSize[];
  checks: { name: string; ok: boolean; detail: string }[];
}

/** Runs the rebuild benchmark, prints its table to stdout, writes rebuild-latest.json; 0 when every check passed. */
export async function runRebuildBench(s: BenchSettings, machine: MachineFacts, log: (line: string) => void): Promise<number> {
  const started = performance.now();
  const rs = rebuildSettings(s);
  log(`rebuild: ${rs.sizes.join(', ')} shards, ${rs.perBackup} per backup, work dir ${path.join(s.workDir, 'rebuild')}, load average ${fmtLoad(loadavg())}`);
  const sizes: RebuildSize[] = [];
  for (const n of rs.sizes) {
    const inst = new Installation(path.join(s.workDir, 'rebuild', `${n}-${rs.perBackup}`), s.replication, process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : null);
    const size: RebuildSize = { shards: n, repo: { backups: 0, data_shards: 0, manifest_shards: 0, objects: 0, bytes: 0 }, generated_seconds: null, runs: [], errors: [] };
    sizes.push(size);
    try {
      const { repo, seconds } = await inst.ensureRepository(n, rs.perBackup, log);
      size.repo = repo;
      size.generated_seconds = seconds;
      const runs = n > 10_000 ? rs.largeRuns : rs.runs;
      for (let i = 1; i <= runs; i++) {
        for (const mode of ['default', 'read-data'] as const) {
          const r = await inst.rebuild(mode, i, rs.dropCaches, repo);
          size.runs.push(r);
          const rss = r.peak_rss ? `, peak RSS ${(r.peak_rss / MiB).toFixed(0)} MiB` : '';
          const helper = r.helper_peak_rss ? ` (+ catalog server ${(r.helper_peak_rss / MiB).toFixed(0)} MiB)` : '';
          log(`rebuild ${n} shards, ${mode}, run ${i}/${runs}: ${r.seconds.toFixed(2)} s (recover-catalog says ${r.tool_seconds?.toFixed(2) ?? '?'} s)${rss}${helper}, load ${fmtLoad(r.load_before)} → ${fmtLoad(r.load_after)}${r.problems.length ? `; PROBLEMS: ${r.problems.join('; ')}` : ''}`);
        }
      }
    } catch (err) {
      log(`rebuild ${n} shards: FAILED: ${(err as Error).message}`);
      size.errors.push((err as Error).message);
    } finally {
      await inst.stopCatalog();
    }
  }
  const report: RebuildReport = {
    generated_at: new Date().toISOString(),
    total_seconds: (performance.now() - started) / 1000,
    settings: rs,
    machine,
    repository: { payload_bytes: [PAYLOAD_MIN, PAYLOAD_MAX], files_per_shard: FILES_PER_SHARD, generator_version: GENERATOR_VERSION },
    sizes,
    checks: rebuildChecks(sizes),
  };
  process.stdout.write(renderRebuild(report));
  await mkdir(path.dirname(REBUILD_RESULTS_FILE), { recursive: true });
  await writeFile(REBUILD_RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
  return report.checks.every((c) => c.ok) ? 0 : 1;
}

/**
 * One repository (kept between benchmark runs) and the catalog a rebuild fills (thrown away before every
 * run). Storage lives outside the data dir, so losing the catalog leaves the repository as it is.
 */
export class Installation {
  private readonly storageRoot: string;
  private readonly dataDir: string;
  private readonly configFile: string;
  private readonly marker: string;

  constructor(
    private readonly dir: string,
    private readonly replication: number | null,
    private readonly profileDir: string | null,
  ) {
    this.storageRoot = path.join(dir, 'storage');
    this.dataDir = path.join(dir, 'catalog');
    this.configFile = path.join(dir, 'config.json');
    this.marker = path.join(dir, 'repository.json');
  }

  private env(dataDir = this.dataDir): Env {
    return {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PLEXICHAT_DATA_DIR: dataDir,
      PLEXICHAT_CONFIG: this.configFile,
      PLEXICHAT_BACKUP_ROOT: this.storageRoot,
      PLEXICHAT_ENCRYPTION_KEY: PLEXICHAT_KEY,
      PLEXICHAT_CATALOG_IDLE_MS: '3600000',
    };
  }

  /** The repository for `shards`, generated unless the one on disk was made by this generator with these settings. */
  async ensureRepository(shards: number, perBackup: number, log: (line: string) => void): Promise<{ repo: GeneratedRepo; seconds: number | null }> {
    const want = { generator_version: GENERATOR_VERSION, shards, per_backup: perBackup, replication: this.replication, key: createHash('sha256').update(PLEXICHAT_KEY).digest('hex').slice(0, 16) };
    const found = await readFile(this.marker, 'utf8').then((t) => JSON.parse(t) as typeof want & { repo: GeneratedRepo }).catch(() => null);
    if (found && JSON.stringify({ ...found, repo: undefined }) === JSON.stringify({ ...want, repo: undefined }) && existsSync(this.storageRoot)) {
      log(`rebuild: reusing the ${shards}-shard repository in ${this.dir}`);
      return { repo: found.repo, seconds: null };
    }
    await this.stopCatalog();
    await rm(this.dir, { recursive: true, force: true });
    await mkdir(this.dir, { recursive: true });
    await writeFile(this.configFile, JSON.stringify(this.replication ? { replication_factor: this.replication } : {}));
    log(`rebuild: generating a repository of ${shards} data shards (${perBackup} per backup) in ${this.dir}`);
    const genData = path.join(this.dir, 'generator-catalog');
    try {
      const m = await measure(process.execPath, ['--import', 'tsx', GENERATOR, String(shards), String(perBackup)], { cwd: REPO_ROOT, env: this.env(genData) });
      check(m, 'rebuild-repo.ts');
      const repo = JSON.parse(m.stdout.trim().split('\n').pop() ?? '') as GeneratedRepo;
      log(`rebuild: generated ${repo.backups} backups, ${repo.data_shards} data + ${repo.manifest_shards} manifest shards, ${repo.objects} objects (${(repo.bytes / MiB).toFixed(0)} MiB) in ${m.seconds.toFixed(0)} s`);
      await writeFile(this.marker, `${JSON.stringify({ ...want, repo }, null, 2)}\n`);
      return { repo, seconds: m.seconds };
    } finally {
      await stopByLock(path.join(genData, 'catalog.lock'));
      await rm(genData, { recursive: true, force: true });
    }
  }

  /** The catalog is lost: a fresh one (created and then restarted, as on any later day), then one timed rebuild. */
  async rebuild(mode: Mode, run: number, drop: boolean, repo: GeneratedRepo): Promise<RebuildRun> {
    await this.stopCatalog();
    await rm(this.dataDir, { recursive: true, force: true });
    check(await measure(process.execPath, ['--import', 'tsx', EMPTY_CATALOG], { cwd: REPO_ROOT, env: this.env() }), 'empty-catalog.ts (new catalog)');
    await this.stopCatalog();
    await this.untimed(['list', '--json'], 'plexichat list (later start)');
    const dropped = drop ? dropCaches() : null;
    const loadBefore = loadavg();
    const m = await this.cli(['recover-catalog', ...(mode === 'read-data' ? ['--read-data'] : []), '--json'], true);
    const loadAfter = loadavg();
    check(m, `plexichat recover-catalog${mode === 'read-data' ? ' --read-data' : ''}`);
    const r = JSON.parse(m.stdout) as RecoverReport;
    const { damaged_objects: damaged, unreferenced_objects: _unreferenced, ...rest } = r;
    return {
      ...figures(m, r.duration_seconds),
      mode,
      run,
      load_before: loadBefore,
      load_after: loadAfter,
      page_cache_dropped: dropped,
      report: { ...rest, damaged_objects: damaged.length },
      problems: problemsOf(r, mode, repo),
    };
  }

  async stopCatalog(): Promise<void> {
    await stopByLock(path.join(this.dataDir, 'catalog.lock'));
  }

  /** A set-up command, tried up to 3 times: on a loaded machine a new catalog can take longer to start than the CLI waits. */
  private async untimed(args: string[], what: string): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const m = await this.cli(args, false);
      if (m.code === 0 || attempt === 3) return check(m, what);
    }
  }

  /** One CLI command on this installation, measured (not checked). */
  cli(args: string[], profile: boolean): Promise<Measured> {
    const prof = profile && this.profileDir ? ['--cpu-prof', '--cpu-prof-dir', path.join(this.profileDir, 'recover-catalog')] : [];
    return measure(process.execPath, [...CLI_START.nodeFlags, ...prof, CLI, ...args], { cwd: REPO_ROOT, env: { ...this.env(), ...CLI_START.env }, helperPidFile: path.join(this.dataDir, 'catalog.lock') });
  }
}

/** What a rebuild of an undamaged repository must report: everything back, nothing damaged or left over. */
function problemsOf(r: RecoverReport, mode: Mode, repo: GeneratedRepo): string[] {
  const p: string[] = [];
  const expect = (what: string, got: number, want: number) => got !== want && p.push(`${what}: ${got}, expected ${want}`);
  expect('backups', r.backups, repo.backups);
  expect('keys', r.keys, repo.backups);
  expect('shards', r.shards, repo.data_shards + repo.manifest_shards);
  expect('unverified shards', r.unverified_shards, mode === 'read-data' ? 0 : repo.data_shards);
  expect('damaged backups', r.damaged_backups.length, 0);
  expect('skipped backups', r.skipped_backups.length, 0);
  expect('damaged objects', r.damaged_objects.length, 0);
  expect('unreferenced objects', r.unreferenced_count, 0);
  expect('locations not listed', r.incomplete_locations.length, 0);
  return p;
}

/** SIGTERM to the catalog server named by a lock file (only that pid), SIGKILL after 15 s. */
export async function stopByLock(lockFile: string): Promise<void> {
  const pid = readPidFile(lockFile);
  if (pid === null) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + 15_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

function rebuildChecks(sizes: RebuildSize[]): RebuildReport['checks'] {
  const checks: RebuildReport['checks'] = [];
  for (const z of sizes) {
    for (const e of z.errors) checks.push({ name: `rebuild ${z.shards} shards`, ok: false, detail: e });
    const bad = z.runs.filter((r) => r.problems.length);
    if (z.runs.length) {
      checks.push({
        name: `rebuild ${z.shards} shards: every backup, key and shard back, nothing damaged (${z.runs.length - bad.length} of ${z.runs.length} runs)`,
        ok: !bad.length,
        detail: bad.length ? bad.map((r) => `${r.mode} run ${r.run}: ${r.problems.join('; ')}`).join(' | ') : `${z.repo.backups} backups, ${z.repo.data_shards} data + ${z.repo.manifest_shards} manifest shards`,
      });
    }
    if (z.shards === TARGET.shards) {
      const times = z.runs.filter((r) => r.mode === 'default').map((r) => r.seconds);
      if (times.length) {
        const worst = Math.max(...times);
        const load = z.runs.find((r) => r.mode === 'default')?.load_before;
        checks.push({
          name: `rebuild of ${TARGET.shards.toLocaleString('en-US')} shards < ${TARGET.seconds} s (issue 11)`,
          ok: worst < TARGET.seconds,
          detail: `${worst.toFixed(1)} s wall time, worst of ${times.length} run(s); load average ${load ? fmtLoad(load) : '?'} at the start`,
        });
      }
    }
  }
  return checks;
}

export function renderRebuild(r: RebuildReport): string {
  const cols = r.sizes.map((z) => `${z.shards.toLocaleString('en-US')} shards`);
  const rows: string[][] = [];
  const add = (metric: string, unit: string, cell: (z: RebuildSize) => string) => rows.push([metric, unit, ...r.sizes.map(cell)]);
  const pick = (z: RebuildSize, mode: Mode) => z.runs.filter((x) => x.mode === mode);
  const spread = (vals: (number | null)[], digits = 1) => {
    const v = vals.filter((x): x is number => typeof x === 'number').sort((a, b) => a - b);
    if (!v.length) return '—';
    const med = v.length % 2 ? v[(v.length - 1) / 2]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
    return v.length === 1 ? med.toFixed(digits) : `${med.toFixed(digits)} (${v[0]!.toFixed(digits)}–${v[v.length - 1]!.toFixed(digits)}, n=${v.length})`;
  };
  const mib = (b: number | null) => (b === null ? null : b / MiB);
  add('backups / data shards / manifest shards', 'count', (z) => `${z.repo.backups} / ${z.repo.data_shards} / ${z.repo.manifest_shards}`);
  add('objects on disk, all locations / bytes', 'files / MiB', (z) => `${z.repo.objects} / ${(z.repo.bytes / MiB).toFixed(0)}`);
  for (const mode of ['default', 'read-data'] as const) {
    const label = mode === 'default' ? 'recover-catalog' : 'recover-catalog --read-data';
    add(`${label}: wall time`, 's', (z) => spread(pick(z, mode).map((x) => x.seconds)));
    add(`${label}: time it reports`, 's', (z) => spread(pick(z, mode).map((x) => x.tool_seconds)));
    add(`${label}: CPU user+sys (+ catalog server)`, 's', (z) => spread(pick(z, mode).map((x) => (x.cpu_seconds === null ? null : x.cpu_seconds + (x.helper_cpu_seconds ?? 0)))));
    add(`${label}: peak RSS`, 'MiB', (z) => spread(pick(z, mode).map((x) => mib(x.peak_rss)), 0));
    add(`${label}: catalog server peak RSS`, 'MiB', (z) => spread(pick(z, mode).map((x) => mib(x.helper_peak_rss)), 0));
    add(`${label}: other processes' CPU meanwhile`, 's', (z) => spread(pick(z, mode).map((x) => x.other_cpu_seconds), 0));
    add(`${label}: load average (1 min) at start`, '', (z) => spread(pick(z, mode).map((x) => x.load_before[0] ?? null)));
  }
  const head = ['metric', 'unit', ...cols];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((c) => c[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const dropped = r.sizes.flatMap((z) => z.runs.map((x) => x.page_cache_dropped));
  const out = [
    '',
    `Catalog rebuild from storage alone (recover-catalog, catalog lost: a fresh empty catalog each run) — ${r.machine.nproc} cores, node ${r.machine.node_version}, local locations`,
    `Synthetic repositories (bench/rebuild-repo.ts): valid encrypted objects with ${r.repository.payload_bytes[0]}–${r.repository.payload_bytes[1]} B payloads instead of ~1 MiB, ${r.repository.files_per_shard} files per data shard, ${r.settings.perBackup} new data shards per backup, no shard shared between backups.`,
    `Median (min–max, n runs) of each mode; wall time includes process start-up. Page cache dropped before each rebuild: ${dropped.includes(true) ? 'yes' : dropped.includes(false) ? 'NO (not permitted)' : 'not tried'}. Load average at the start of the benchmark: see the rows; a loaded machine makes these figures pessimistic.`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    ...r.checks.map((c) => `${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`),
    '',
    `Rebuild benchmark: ${(r.total_seconds / 60).toFixed(1)} min. Results: ${path.relative(process.cwd(), REBUILD_RESULTS_FILE)}`,
  ];
  return `${out.join('\n')}\n`;
}

function fmtLoad(l: number[]): string {
  return l.map((x) => x.toFixed(2)).join(' ');
}
