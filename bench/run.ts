/**
 * `npm run bench`: PlexiChat (the CLI, one child process per operation, one copy by default) against restic
 * and borg when they are on PATH, on seeded generated datasets (made once per scale) and on real trees
 * (BENCH_TREES), the tools taking turns in every run; prints a side-by-side table with ratios and writes
 * bench/results/latest.json. Then `list` at 10,000 backups and the catalog rebuild. See bench/README.md.
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { BorgTool } from './borg-tool';
import { ensureDatasets } from './datasets';
import { runScaleBench } from './catalog-scale';
import { runErasureBench } from './erasure-bench';
import { runListBench } from './list-bench';
import { PlexichatTool } from './plexichat-tool';
import { prepareTrees } from './real-trees';
import { runRebuildBench } from './rebuild';
import { goalChecks } from './goal-checks';
import { buildChecks, buildRows, otherCpuShare, renderReport, type Report, type Results, writeResults } from './report';
import { RestoreTargets } from './restore-target';
import { ResticTool } from './restic-tool';
import { Runner } from './scenarios';
import { type BenchSettings, settingsFromEnv } from './settings';
import { machineFacts, type MachineFacts } from './system';
import type { Tool } from './tool';

const started = performance.now();
const log = (line: string) => process.stderr.write(`[${((performance.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`);

async function main(): Promise<number> {
  const s = settingsFromEnv();
  const machine = machineFacts(s.restic, s.borg);
  let code = 0;
  if (s.only.includes('compare')) code |= await runCompare(s, machine);
  if (s.only.includes('list')) code |= await runListBench(s, machine, log);
  if (s.only.includes('rebuild')) code |= await runRebuildBench(s, machine, log);
  if (s.only.includes('scale')) code |= await runScaleBench(s, machine, log);
  if (s.only.includes('erasure')) code |= await runErasureBench(s, log);
  return code;
}

async function runCompare(s: BenchSettings, machine: MachineFacts): Promise<number> {
  const versions = [machine.restic_version ?? 'no restic on PATH', machine.borg_version ?? 'no borg on PATH'].join(', ');
  log(`${s.datasets ? `scale ${s.scale}` : 'no generated datasets'}, work dir ${s.workDir}, ${machine.nproc} cores, replication_factor ${s.replication}, ${versions}, ${s.trees.length} real tree(s)`);
  await mkdir(s.workDir, { recursive: true });
  const datasets = s.datasets ? await ensureDatasets(s, log) : null;
  const trees = await prepareTrees(s, log);
  const targets = await RestoreTargets.detect(s.workDir);
  log(targets.mode === 'fresh-ext4' ? 'restores: each into a new ext4 file system (loop-mounted image)' : `restores: into the work dir (no fresh file system: ${targets.reason})`);
  const runner = new Runner(s, datasets, trees, log, targets);
  const profileDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : null;
  const tools: Tool[] = [new PlexichatTool(path.join(s.workDir, 'plexichat'), s.replication, profileDir)];
  if (s.restic) tools.push(new ResticTool(path.join(s.workDir, 'restic'), s.restic));
  if (s.borg) tools.push(new BorgTool(path.join(s.workDir, 'borg'), s.borg));
  const results: Results = { plexichat: [] };
  for (const t of tools) results[t.name] = [];
  const reportNow = (rows = buildRows(datasets, trees, results)): Report => ({
    generated_at: new Date().toISOString(),
    total_seconds: (performance.now() - started) / 1000,
    settings: s,
    machine,
    page_cache_dropped: runner.cacheDropped,
    restore_targets: { mode: targets.mode, reason: targets.reason },
    datasets,
    trees,
    rows,
    checks: [...buildChecks(results, trees), ...goalChecks(rows, results)],
    other_cpu_share: otherCpuShare(Object.values(results).flat(), machine.nproc),
    results,
  });
  for (let i = 1; i <= s.runs; i++) {
    log(`run ${i} of ${s.runs}`);
    for (const t of tools) results[t.name]!.push(await runner.runTool(t));
    // After every run, so a benchmark stopped early still leaves the table of the runs it finished.
    if (i < s.runs) await writeResults(reportNow(), true);
  }
  const report = reportNow();
  process.stdout.write(renderReport(report));
  await writeResults(report);
  return report.checks.every((c) => c.ok) ? 0 : 1;
}

process.exitCode = await main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  return 1;
});
