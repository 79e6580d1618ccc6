/**
 * `list` at 10,000 backups (issue 13: under 300 ms), and `--help` (issue 13: under 200 ms). The installation is made through the engine, not by
 * 10,000 CLI backups: bench/rebuild-repo.ts writes a repository of BENCH_LIST_BACKUPS backups of one small data
 * shard each (kept under <work dir>/list and reused), then `recover-catalog` fills a fresh catalog from it
 * (timed, reported). With the catalog server up (one untimed `list`), `plexichat-backup list --json` is timed
 * BENCH_LIST_RUNS times (default 5), then `plexichat-backup --help` as many times. Results:
 * bench/results/list-latest.json.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Installation } from './rebuild';
import { type BenchSettings, MiB, REPO_ROOT } from './settings';
import { fmtNumber, fmtSpread, type Spread, spreadOf } from './stats';
import type { MachineFacts } from './system';
import { check, figures, type OpFigures } from './tool';

export const LIST_RESULTS_FILE = path.join(REPO_ROOT, 'bench', 'results', 'list-latest.json');
/** Issue 13's targets. */
const TARGET_MS = 300;
const HELP_TARGET_MS = 200;

export interface ListReport {
  generated_at: string;
  backups: number;
  repository_generated_seconds: number | null;
  recover_catalog: OpFigures & { problems: string[] };
  runs: (OpFigures & { listed: number })[];
  wall_ms: Spread | null;
  /** `plexichat-backup --help`, wall time of each run (absent in reports from before it). */
  help_ms?: Spread | null;
  machine: MachineFacts;
}

export async function runListBench(s: BenchSettings, machine: MachineFacts, log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const backups = Number(env.BENCH_LIST_BACKUPS ?? '10000');
  const runs = Number(env.BENCH_LIST_RUNS ?? '5');
  if (!Number.isInteger(backups) || backups < 1) throw new Error(`BENCH_LIST_BACKUPS must be a positive whole number; got "${env.BENCH_LIST_BACKUPS}".`);
  if (!Number.isInteger(runs) || runs < 1 || runs > 50) throw new Error(`BENCH_LIST_RUNS must be a whole number from 1 to 50; got "${env.BENCH_LIST_RUNS}".`);
  const inst = new Installation(path.join(s.workDir, 'list', String(backups)), s.replication, null);
  try {
    const { repo, seconds } = await inst.ensureRepository(backups, 1, log);
    log(`list: filling a fresh catalog with ${repo.backups} backups (recover-catalog) …`);
    const rebuilt = await inst.rebuild('default', 1, false, repo);
    log(`list: recover-catalog ${rebuilt.seconds.toFixed(1)} s${rebuilt.problems.length ? `; PROBLEMS: ${rebuilt.problems.join('; ')}` : ''}`);
    check(await inst.cli(['list', '--json'], false), 'plexichat list (untimed, catalog server up)');
    const timed: ListReport['runs'] = [];
    for (let i = 0; i < runs; i++) {
      const m = await inst.cli(['list', '--json'], false);
      check(m, 'plexichat list --json');
      timed.push({ ...figures(m), listed: (JSON.parse(m.stdout) as unknown[]).length });
    }
    const help: number[] = [];
    for (let i = 0; i < runs; i++) {
      const m = await inst.cli(['--help'], false);
      check(m, 'plexichat --help');
      help.push(m.seconds * 1000);
    }
    const report: ListReport = {
      generated_at: new Date().toISOString(),
      backups: repo.backups,
      repository_generated_seconds: seconds,
      recover_catalog: { ...pickFigures(rebuilt), problems: rebuilt.problems },
      runs: timed,
      wall_ms: spreadOf(timed.map((r) => r.seconds * 1000)),
      help_ms: spreadOf(help),
      machine,
    };
    process.stdout.write(renderList(report));
    await mkdir(path.dirname(LIST_RESULTS_FILE), { recursive: true });
    await writeFile(LIST_RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
    return rebuilt.problems.length === 0 && listUnderTarget(report) && helpUnderTarget(report) ? 0 : 1;
  } catch (err) {
    log(`list: FAILED: ${(err as Error).message}`);
    return 1;
  } finally {
    await inst.stopCatalog();
  }
}

function listUnderTarget(r: ListReport): boolean {
  return r.wall_ms !== null && r.wall_ms.median < TARGET_MS;
}

function helpUnderTarget(r: ListReport): boolean {
  return r.help_ms != null && r.help_ms.median < HELP_TARGET_MS;
}

function pickFigures(op: OpFigures): OpFigures {
  const { seconds, peak_rss, cpu_seconds, helper_peak_rss, helper_cpu_seconds, tool_seconds, other_cpu_seconds } = op;
  return { seconds, peak_rss, cpu_seconds, helper_peak_rss, helper_cpu_seconds, tool_seconds, other_cpu_seconds };
}

export function renderList(r: ListReport): string {
  const cpu = spreadOf(r.runs.map((x) => (x.cpu_seconds === null ? null : x.cpu_seconds + (x.helper_cpu_seconds ?? 0))));
  const rss = spreadOf(r.runs.map((x) => (x.peak_rss === null ? null : x.peak_rss / MiB)));
  const server = spreadOf(r.runs.map((x) => (x.helper_peak_rss === null ? null : x.helper_peak_rss / MiB)));
  const other = spreadOf(r.runs.map((x) => x.other_cpu_seconds));
  const ok = listUnderTarget(r);
  return [
    '',
    `plexichat-backup list --json on an installation of ${fmtNumber(r.backups)} backups (catalog filled by recover-catalog in ${r.recover_catalog.seconds.toFixed(1)} s; catalog server already up), ${r.runs.length} runs, median (min–max):`,
    `  wall time, process start to exit: ${fmtSpread(r.wall_ms)} ms (${r.runs[0]?.listed ?? 0} backups printed: the default page)`,
    `  CPU user+sys (+ catalog server): ${fmtSpread(cpu)} s; peak RSS ${fmtSpread(rss)} MiB (+ catalog server ${fmtSpread(server)} MiB); other processes' CPU meanwhile ${fmtSpread(other)} s`,
    `${ok ? 'PASS' : 'FAIL'}  list at ${fmtNumber(r.backups)} backups < ${TARGET_MS} ms (issue 13): median ${fmtNumber(r.wall_ms?.median ?? null)} ms`,
    ...(r.help_ms === undefined
      ? []
      : [`${helpUnderTarget(r) ? 'PASS' : 'FAIL'}  plexichat-backup --help < ${HELP_TARGET_MS} ms (issue 13): ${fmtSpread(r.help_ms)} ms, wall time of the process, ${r.help_ms?.n ?? 0} runs`]),
    '',
  ].join('\n');
}
