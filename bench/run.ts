/**
 * `npm run bench`: generates seeded datasets (once per scale), then backs them up and restores them with
 * PlexiChat (the CLI, one child process per operation) and, when it is installed, restic; prints a
 * side-by-side table and writes bench/results/latest.json. See bench/README.md.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ensureDatasets } from './datasets';
import { runRebuildBench } from './rebuild';
import { PlexichatTool } from './plexichat-tool';
import { buildChecks, buildRows, otherCpuShare, renderReport, type Report, writeResults } from './report';
import { ResticTool } from './restic-tool';
import { Runner, type ToolResults } from './scenarios';
import { settingsFromEnv } from './settings';
import { machineFacts } from './system';

const started = performance.now();
const log = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

async function main(): Promise<number> {
  const s = settingsFromEnv();
  const machine = machineFacts(s.restic);
  // BENCH_ONLY=rebuild: only the catalog rebuild benchmark (bench/rebuild.ts).
  if (process.env.BENCH_ONLY === 'rebuild') return runRebuildBench(s, machine, log);
  log(`scale ${s.scale}, work dir ${s.workDir}, ${machine.nproc} cores, ${machine.restic_version ?? 'no restic on PATH'}`);
  await mkdir(s.workDir, { recursive: true });
  const datasets = await ensureDatasets(s, log);
  const runner = new Runner(s, datasets, log);
  const profileDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : null;
  const px = new PlexichatTool(path.join(s.workDir, 'plexichat'), s.replication, profileDir);
  const rs = s.restic ? new ResticTool(path.join(s.workDir, 'restic'), s.restic) : null;
  const plexichat: ToolResults[] = [];
  const restic: ToolResults[] | null = rs ? [] : null;
  for (let i = 1; i <= s.runs; i++) {
    log(`run ${i} of ${s.runs}`);
    plexichat.push(await runner.runTool(px));
    if (rs && restic) restic.push(await runner.runTool(rs));
  }
  const report: Report = {
    generated_at: new Date().toISOString(),
    total_seconds: (performance.now() - started) / 1000,
    settings: s,
    machine,
    page_cache_dropped: runner.cacheDropped,
    datasets,
    rows: buildRows(datasets, plexichat, restic),
    checks: buildChecks(plexichat, restic),
    other_cpu_share: otherCpuShare([...plexichat, ...(restic ?? [])], machine.nproc),
    plexichat,
    restic,
  };
  process.stdout.write(renderReport(report));
  await writeResults(report);
  const rebuild = await runRebuildBench(s, machine, log);
  return report.checks.every((c) => c.ok) && rebuild === 0 ? 0 : 1;
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  return 1;
});
