/**
 * The side-by-side table (metric | unit | plexichat | restic | borg | ratios), the checks under it, and
 * results/latest.json. Every cell is the median of the runs with their min–max; ratios compare medians and
 * read the same way on every row: ≥ 1.00 means PlexiChat is better (faster, smaller, leaner).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Dataset, Datasets } from './datasets';
import type { GroupA, ToolResults } from './scenarios';
import type { RestoreTargetMode } from './restore-target';
import { type BenchSettings, MiB, RESULTS_FILE, SMALL_TREE_RSS_LIMIT } from './settings';
import { type Better, fmtRatio, fmtSpread, ratioVsPlexichat, type Spread, spreadOf } from './stats';
import type { MachineFacts } from './system';
import type { OpFigures, ToolName } from './tool';

export type Others = 'restic' | 'borg';

const PARTIAL_FILE = path.join(path.dirname(RESULTS_FILE), 'partial.txt');
export type Results = { plexichat: ToolResults[] } & Partial<Record<Others, ToolResults[]>>;

export interface Row {
  metric: string;
  unit: string;
  /** Null: a figure with no better direction (counts, the catalog server alone); no ratio. */
  better: Better | null;
  values: Partial<Record<ToolName, Spread | null>>;
  /** Against PlexiChat, ≥ 1 meaning PlexiChat is better (see stats.ts). */
  ratios: Partial<Record<Others, number | null>>;
}

export interface Report {
  generated_at: string;
  total_seconds: number;
  settings: BenchSettings;
  machine: MachineFacts;
  page_cache_dropped: boolean | null;
  /** Where restores wrote (restore-target.ts); absent in reports from before it. */
  restore_targets?: { mode: RestoreTargetMode; reason: string | null };
  datasets: Datasets | null;
  trees: Dataset[];
  rows: Row[];
  checks: { name: string; ok: boolean; detail: string }[];
  /** Share of the machine's CPU used by other processes during the timed operations (noise indicator). */
  other_cpu_share: number | null;
  /** Every run of every tool, in order; the rows hold medians and ranges over runs. */
  results: Results;
}

type Pick = (t: ToolResults) => number | null | undefined;

const mib = (bytes: number | null | undefined) => (bytes == null ? null : bytes / MiB);
const rate = (bytes: number, op: OpFigures | undefined) => (op ? bytes / MiB / op.seconds : null);
/** CPU of the operation's process plus its helper (PlexiChat's catalog server): all the work it caused. */
const cpu = (op: OpFigures | undefined) => (op?.cpu_seconds == null ? null : op.cpu_seconds + (op.helper_cpu_seconds ?? 0));
/** Memory of the whole installation during the operation: the command's peak plus the catalog server's. */
const installation = (op: OpFigures | undefined) => (op?.peak_rss == null ? null : mib(op.peak_rss + (op.helper_peak_rss ?? 0)));
/** The same with the catalog server's shared pages (the node binary, libraries: the command maps them too) counted once. */
export const installationOnce = (op: OpFigures | undefined) => (op?.peak_rss == null ? null : mib(op.peak_rss + (op.helper_peak_private ?? op.helper_peak_rss ?? 0)));

export function toolsOf(r: Results): ToolName[] {
  return (['plexichat', 'restic', 'borg'] as const).filter((t) => r[t] !== undefined);
}

export function buildRows(d: Datasets | null, trees: Dataset[], results: Results): Row[] {
  const rows: Row[] = [];
  const tools = toolsOf(results);
  const add = (metric: string, unit: string, better: Better | null, pick: Pick) => {
    const values: Row['values'] = {};
    for (const t of tools) values[t] = spreadOf(results[t]!.map(pick));
    const ratios: Row['ratios'] = {};
    for (const t of tools) if (t !== 'plexichat') ratios[t] = better ? ratioVsPlexichat(values.plexichat?.median, values[t]?.median, better) : null;
    rows.push({ metric, unit, better, values, ratios });
  };
  const groupA = (label: string, bytes: number, pick: (t: ToolResults) => GroupA | undefined) => {
    add(`${label}: backup`, 's', 'lower', (t) => pick(t)?.backup.seconds);
    add('  backup throughput', 'MiB/s', 'higher', (t) => rate(bytes, pick(t)?.backup));
    add('  backup, time reported by the tool', 's', 'lower', (t) => pick(t)?.backup.tool_seconds);
    add('  backup, CPU user+sys (+ catalog server)', 's', 'lower', (t) => cpu(pick(t)?.backup));
    add('  backup, peak memory: command + catalog server', 'MiB', 'lower', (t) => installation(pick(t)?.backup));
    add('  backup, of which catalog server', 'MiB', null, (t) => mib(pick(t)?.backup.helper_peak_rss));
    add('  backup, peak memory, shared pages counted once', 'MiB', 'lower', (t) => installationOnce(pick(t)?.backup));
    add('  restore (verified afterwards)', 's', 'lower', (t) => pick(t)?.restore.seconds);
    add('  restore throughput', 'MiB/s', 'higher', (t) => rate(bytes, pick(t)?.restore));
    add('  restore, CPU user+sys (+ catalog server)', 's', 'lower', (t) => cpu(pick(t)?.restore));
    add('  restore, peak memory: command + catalog server', 'MiB', 'lower', (t) => installation(pick(t)?.restore));
    add('  restore, peak memory, shared pages counted once', 'MiB', 'lower', (t) => installationOnce(pick(t)?.restore));
    add('  unchanged re-backup', 's', 'lower', (t) => pick(t)?.rebackup.seconds);
    add('  unchanged re-backup, peak memory: command + catalog server', 'MiB', 'lower', (t) => installation(pick(t)?.rebackup));
    add('  repository on disk, all copies', 'MiB', 'lower', (t) => mib(pick(t)?.storage.bytes));
  };
  if (d) {
    add('new installation / repository init', 's', 'lower', (t) => t.incompressible?.start.seconds);
    add('new installation: catalog server peak RSS', 'MiB', null, (t) => mib(t.incompressible?.start.helper_peak_rss));
    add('later start: catalog server start + list', 's', null, (t) => t.incompressible?.settle?.seconds);
    add('later start: catalog server peak RSS', 'MiB', null, (t) => mib(t.incompressible?.settle?.helper_peak_rss));
    groupA(`(a) incompressible ${fmtMiB(d.incompressible.bytes)}, ${d.incompressible.files} files`, d.incompressible.bytes, (t) => t.incompressible);
    const b = d.json.bytes;
    add(`(b) chat JSON ${fmtMiB(b)}, ${d.json.files} files: backup`, 's', 'lower', (t) => t.json?.backup.seconds);
    add('  backup throughput', 'MiB/s', 'higher', (t) => rate(b, t.json?.backup));
    add('  backup, CPU user+sys (+ catalog server)', 's', 'lower', (t) => cpu(t.json?.backup));
    add('  backup, peak memory: command + catalog server', 'MiB', 'lower', (t) => installation(t.json?.backup));
    add('  backup, peak memory, shared pages counted once', 'MiB', 'lower', (t) => installationOnce(t.json?.backup));
    add('  restore (verified afterwards)', 's', 'lower', (t) => t.json?.restore.seconds);
    add('  restore throughput', 'MiB/s', 'higher', (t) => rate(b, t.json?.restore));
    add('  restore, CPU user+sys (+ catalog server)', 's', 'lower', (t) => cpu(t.json?.restore));
    add('  restore, peak memory: command + catalog server', 'MiB', 'lower', (t) => installation(t.json?.restore));
    add('  restore, peak memory, shared pages counted once', 'MiB', 'lower', (t) => installationOnce(t.json?.restore));
    add('  repository on disk, all copies', 'MiB', 'lower', (t) => mib(t.json?.storage_after_json.bytes));
    add('(c) shifted after (b): added, as reported*', 'MiB', null, (t) => mib(t.json?.shifted.added_reported));
    add('  repository growth per copy', 'MiB', 'lower', (t) => mib(t.json?.shifted_growth_per_copy));
    add('  backup', 's', 'lower', (t) => t.json?.shifted.seconds);
    add('  backup, CPU user+sys (+ catalog server)', 's', 'lower', (t) => cpu(t.json?.shifted));
    add('  backup, peak memory: command + catalog server', 'MiB', 'lower', (t) => installation(t.json?.shifted));
    add('  backup, peak memory, shared pages counted once', 'MiB', 'lower', (t) => installationOnce(t.json?.shifted));
    const small = d.small;
    add(`(d) ${small.files} small files ${fmtMiB(small.bytes)}: backup`, 's', 'lower', (t) => t.small_files?.backup.seconds);
    add('  backup', 'files/s', 'higher', (t) => (t.small_files ? small.files / t.small_files.backup.seconds : null));
    add('  backup, time reported by the tool', 's', 'lower', (t) => t.small_files?.backup.tool_seconds);
    add('  backup, CPU user+sys (+ catalog server)', 's', 'lower', (t) => cpu(t.small_files?.backup));
    add('  backup, peak memory: command + catalog server', 'MiB', 'lower', (t) => installation(t.small_files?.backup));
    add('  backup, of which catalog server', 'MiB', null, (t) => mib(t.small_files?.backup.helper_peak_rss));
    add('  backup, peak memory, shared pages counted once', 'MiB', 'lower', (t) => installationOnce(t.small_files?.backup));
    add('  storage objects created, all copies', 'files', null, (t) => t.small_files?.storage.files);
    add('  new shards / blobs', 'count', null, (t) => t.small_files?.backup.new_objects);
    add('  repository on disk, all copies', 'MiB', 'lower', (t) => mib(t.small_files?.storage.bytes));
    add('  unchanged re-backup (incremental)', 's', 'lower', (t) => t.small_files?.rebackup.seconds);
    add('  unchanged re-backup, time reported by the tool', 's', 'lower', (t) => t.small_files?.rebackup.tool_seconds);
    add('  unchanged re-backup, CPU user+sys (+ catalog server)', 's', 'lower', (t) => cpu(t.small_files?.rebackup));
  }
  for (const tree of trees) {
    const links = tree.extra.symlinks ? ` + ${tree.extra.symlinks} symlinks` : '';
    groupA(`[tree] ${tree.source ?? tree.name} ${fmtMiB(tree.bytes)}, ${tree.files} files${links}`, tree.bytes, (t) => t.trees[tree.name]);
  }
  return rows;
}

export function buildChecks(results: Results, trees: Dataset[]): Report['checks'] {
  const checks: Report['checks'] = [];
  for (const name of toolsOf(results)) {
    const runs = results[name]!;
    const restores: [string, (t: ToolResults) => GroupA['restore'] | undefined][] = [
      ['(a)', (t) => t.incompressible?.restore],
      ['(b)', (t) => t.json?.restore],
      ...trees.map((tree): [string, (t: ToolResults) => GroupA['restore'] | undefined] => [`[tree] ${tree.name}`, (t) => t.trees[tree.name]?.restore]),
    ];
    for (const [label, pick] of restores) {
      const outcomes = runs.map((t) => pick(t)?.verify).filter((v) => v !== undefined);
      if (!outcomes.length) continue;
      const bad = outcomes.find((v) => !v.ok);
      const first = outcomes[0]!;
      const detail = bad ? bad.problems.join('; ') : `${first.files_found} files, ${fmtMiB(first.bytes_checked)} compared by size + SHA-256`;
      checks.push({ name: `${name} restore ${label} identical to the source (${outcomes.filter((v) => v.ok).length} of ${outcomes.length} runs)`, ok: !bad, detail });
    }
    runs.forEach((t, i) => t.errors.forEach((e) => checks.push({ name: `${name} run ${i + 1}`, ok: false, detail: e })));
  }
  const px = results.plexichat;
  // The limit holds for the worst run.
  const peaks = px.map((t) => t.small_files?.backup.peak_rss).filter((v): v is number => typeof v === 'number');
  const helpers = px.map((t) => t.small_files?.backup.helper_peak_rss).filter((v): v is number => typeof v === 'number');
  if (peaks.length) {
    const worst = Math.max(...peaks);
    const helper = helpers.length ? `; the catalog server, a separate process, peaked at ${fmtMiB(Math.max(...helpers))}` : '';
    checks.push({
      name: `plexichat (d) small-file backup peak RSS < ${fmtMiB(SMALL_TREE_RSS_LIMIT)}`,
      ok: worst < SMALL_TREE_RSS_LIMIT,
      detail: `backup process ${fmtMiB(worst)} (worst of ${peaks.length} run${peaks.length > 1 ? 's' : ''})${helper}`,
    });
  }
  // Issue 6: an incremental backup of an unchanged tree takes under a quarter of the full backup's time.
  // The backups' own durations (process start-up, the same for both, is left out).
  const ratios = px
    .map((t) => (t.small_files?.rebackup.tool_seconds && t.small_files.backup.tool_seconds ? t.small_files.rebackup.tool_seconds / t.small_files.backup.tool_seconds : null))
    .filter((v): v is number => v !== null);
  if (ratios.length) {
    const worst = Math.max(...ratios);
    checks.push({ name: 'plexichat (d) incremental re-backup < 25% of the full backup time', ok: worst < 0.25, detail: `worst ratio ${(worst * 100).toFixed(1)}% of ${ratios.length} run(s)` });
  }
  return checks;
}

/** CPU used by other processes during the timed operations, as a share of all the CPU the machine had then. */
export function otherCpuShare(results: ToolResults[], cores: number): number | null {
  let other = 0;
  let available = 0;
  for (const t of results) {
    for (const op of timedOps(t)) {
      if (op.other_cpu_seconds === null) return null;
      other += op.other_cpu_seconds;
      available += op.seconds * cores;
    }
  }
  return available > 0 ? other / available : null;
}

function timedOps(t: ToolResults): OpFigures[] {
  const a = t.incompressible;
  const b = t.json;
  const d = t.small_files;
  const trees = Object.values(t.trees).flatMap((g) => [g.backup, g.restore, g.rebackup]);
  return [a?.backup, a?.restore, a?.rebackup, b?.backup, b?.restore, b?.shifted, d?.backup, d?.rebackup, ...trees].filter((op): op is NonNullable<typeof op> => op !== undefined);
}

export function renderReport(r: Report): string {
  const s = r.settings;
  const tools = toolsOf(r.results);
  const others = tools.filter((t): t is Others => t !== 'plexichat');
  const done = r.results.plexichat.length;
  const head = ['metric', 'unit', ...tools, ...others.map((t) => `vs ${t}`)];
  const body = r.rows.map((row) => [row.metric, row.unit, ...tools.map((t) => fmtSpread(row.values[t] ?? null)), ...others.map((t) => fmtRatio(row.ratios[t] ?? null))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const versions = [r.machine.restic_version ?? 'restic not run', r.machine.borg_version ?? 'borg not run'].join(', ');
  const out = [
    `PlexiChat Backup benchmark — ${r.datasets ? `datasets at scale ${s.scale}` : 'no generated datasets'}${r.trees.length ? `, ${r.trees.length} real tree(s)` : ''}, ${r.machine.nproc} cores, node ${r.machine.node_version}, ${versions}`,
    `PlexiChat: replication_factor ${r.results.plexichat[0]?.copies ?? s.replication} (copies on the same disk); restic and borg: 1 copy. Page cache dropped before each timed operation: ${r.page_cache_dropped === null ? 'not tried' : r.page_cache_dropped ? 'yes' : 'NO (not permitted)'}.`,
    r.restore_targets?.mode === 'fresh-ext4' ? 'Every restore wrote to a new ext4 file system of its own.' : `Restores wrote to the work dir, one after the other (${r.restore_targets?.reason ?? 'not recorded'}): a restore's time depends on what that file system went through before.`,
    `Median (min–max) of ${done} run${done > 1 ? 's' : ''}${done < s.runs ? ` (of ${s.runs} planned)` : ''}, the tools taking turns in each run (every run in results/latest.json). Wall times include process start-up; MiB = 2^20 bytes.`,
    `"vs restic" / "vs borg": the other tool's time, size or memory ÷ PlexiChat's, or PlexiChat's throughput ÷ the other's (medians): ≥ 1.00 means PlexiChat is better.`,
    r.other_cpu_share === null ? 'Other processes\' CPU: not measured.' : `Other processes on the machine used ${(r.other_cpu_share * 100).toFixed(0)}% of its CPU during the timed operations${r.other_cpu_share > 0.1 ? ' (a noisy machine: expect spread between runs)' : ''}.`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
    ...(r.datasets ? ['* PlexiChat reports new_bytes (compressed + encrypted, one copy); restic 0.14 reports data_added (before compression); borg the deduplicated size.', ''] : []),
    ...r.checks.map((c) => `${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`),
    '',
    `Total ${(r.total_seconds / 60).toFixed(1)} min (${r.datasets ? `datasets: ${datasetNote(r.datasets)}` : 'no generated datasets'}${r.trees.length ? `; ${r.trees.length} real tree(s) copied and hashed in ${r.trees.reduce((n, t) => n + (t.generatedSeconds ?? 0), 0).toFixed(0)} s` : ''}). Results: ${path.relative(process.cwd(), RESULTS_FILE)}`,
  ];
  return `${out.join('\n')}\n`;
}

/** results/latest.json, and with `partial` (after each run but the last) the table so far in results/partial.txt. */
export async function writeResults(r: Report, partial = false): Promise<void> {
  await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify(r, null, 2)}\n`);
  if (partial) await writeFile(PARTIAL_FILE, renderReport(r));
  else await rm(PARTIAL_FILE, { force: true });
}

function datasetNote(d: Datasets): string {
  const all = [d.incompressible, d.json, d.shifted, d.small];
  const made = all.filter((x) => x.generatedSeconds !== null);
  if (!made.length) return 'reused';
  return `${made.map((x) => x.name).join(', ')} generated in ${made.reduce((n, x) => n + (x.generatedSeconds ?? 0), 0).toFixed(0)} s`;
}

export function fmtMiB(bytes: number): string {
  return bytes >= 1024 * MiB ? `${(bytes / 1024 / MiB).toFixed(2)} GiB` : `${(bytes / MiB).toFixed(bytes >= 10 * MiB ? 0 : 1)} MiB`;
}
