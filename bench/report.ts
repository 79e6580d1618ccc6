/** The side-by-side table (metric | plexichat | restic | ratio), the checks under it, and results/latest.json. */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Datasets } from './datasets';
import type { ToolResults } from './scenarios';
import { type BenchSettings, MiB, RESULTS_FILE, SMALL_TREE_RSS_LIMIT } from './settings';
import type { MachineFacts } from './system';
import type { OpFigures } from './tool';

export interface Row {
  metric: string;
  unit: string;
  plexichat: number | null;
  restic: number | null;
  /** plexichat ÷ restic */
  ratio: number | null;
}

export interface Report {
  generated_at: string;
  total_seconds: number;
  settings: BenchSettings;
  machine: MachineFacts;
  page_cache_dropped: boolean | null;
  datasets: Datasets;
  rows: Row[];
  checks: { name: string; ok: boolean; detail: string }[];
  /** Share of the machine's CPU used by other processes during the timed operations (noise indicator). */
  other_cpu_share: number | null;
  /** Every run, in order; the rows hold the median over runs. */
  plexichat: ToolResults[];
  restic: ToolResults[] | null;
}

type Pick = (t: ToolResults) => number | null | undefined;

const mib = (bytes: number | null | undefined) => (bytes == null ? null : bytes / MiB);
const rate = (bytes: number, op: OpFigures | undefined) => (op ? bytes / MiB / op.seconds : null);
/** CPU of the operation's process plus its helper (PlexiChat's catalog server): all the work it caused. */
const cpu = (op: OpFigures | undefined) => (op?.cpu_seconds == null ? null : op.cpu_seconds + (op.helper_cpu_seconds ?? 0));

export function buildRows(d: Datasets, px: ToolResults[], rs: ToolResults[] | null): Row[] {
  const rows: Row[] = [];
  const add = (metric: string, unit: string, pick: Pick) => {
    const a = median(px.map(pick));
    const b = rs ? median(rs.map(pick)) : null;
    rows.push({ metric, unit, plexichat: a, restic: b, ratio: a !== null && b ? a / b : null });
  };
  const a = d.incompressible.bytes;
  const b = d.json.bytes;
  add('new installation / repository init', 's', (t) => t.incompressible?.start.seconds);
  add('new installation: catalog server peak RSS', 'MiB', (t) => mib(t.incompressible?.start.helper_peak_rss));
  add('later start: catalog server start + list', 's', (t) => t.incompressible?.settle?.seconds);
  add('later start: catalog server peak RSS', 'MiB', (t) => mib(t.incompressible?.settle?.helper_peak_rss));
  add(`(a) incompressible ${fmtMiB(a)}: backup`, 'MiB/s', (t) => rate(a, t.incompressible?.backup));
  add('(a) backup, wall time', 's', (t) => t.incompressible?.backup.seconds);
  add('(a) backup, time reported by the tool', 's', (t) => t.incompressible?.backup.tool_seconds);
  add('(a) backup, CPU user+sys (+ catalog server)', 's', (t) => cpu(t.incompressible?.backup));
  add('(a) backup, peak RSS', 'MiB', (t) => mib(t.incompressible?.backup.peak_rss));
  add('(a) backup, catalog server peak RSS', 'MiB', (t) => mib(t.incompressible?.backup.helper_peak_rss));
  add('(a) restore (incl. process start)', 'MiB/s', (t) => rate(a, t.incompressible?.restore));
  add('(a) restore, wall time', 's', (t) => t.incompressible?.restore.seconds);
  add('(a) restore, CPU user+sys (+ catalog server)', 's', (t) => cpu(t.incompressible?.restore));
  add('(a) restore, peak RSS', 'MiB', (t) => mib(t.incompressible?.restore.peak_rss));
  add('(a) re-backup of the unchanged tree (incremental)', 's', (t) => t.incompressible?.rebackup.seconds);
  add('(a) re-backup, CPU user+sys (+ catalog server)', 's', (t) => cpu(t.incompressible?.rebackup));
  add('(a) re-backup, peak RSS', 'MiB', (t) => mib(t.incompressible?.rebackup.peak_rss));
  add('(a) repository on disk, all copies', 'MiB', (t) => mib(t.incompressible?.storage.bytes));
  add(`(b) chat JSON ${fmtMiB(b)}: backup`, 'MiB/s', (t) => rate(b, t.json?.backup));
  add('(b) backup, wall time', 's', (t) => t.json?.backup.seconds);
  add('(b) backup, CPU user+sys (+ catalog server)', 's', (t) => cpu(t.json?.backup));
  add('(b) backup, peak RSS', 'MiB', (t) => mib(t.json?.backup.peak_rss));
  add('(b) backup, catalog server peak RSS', 'MiB', (t) => mib(t.json?.backup.helper_peak_rss));
  add('(b) restore (incl. process start)', 'MiB/s', (t) => rate(b, t.json?.restore));
  add('(b) restore, wall time', 's', (t) => t.json?.restore.seconds);
  add('(b) restore, CPU user+sys (+ catalog server)', 's', (t) => cpu(t.json?.restore));
  add('(b) restore, peak RSS', 'MiB', (t) => mib(t.json?.restore.peak_rss));
  add('(b) repository on disk, all copies', 'MiB', (t) => mib(t.json?.storage_after_json.bytes));
  add('(c) shifted after (b): added, as reported*', 'MiB', (t) => mib(t.json?.shifted.added_reported));
  add('(c) repository growth per copy', 'MiB', (t) => mib(t.json?.shifted_growth_per_copy));
  add('(c) backup, wall time', 's', (t) => t.json?.shifted.seconds);
  add('(c) backup, CPU user+sys (+ catalog server)', 's', (t) => cpu(t.json?.shifted));
  add('(c) backup, peak RSS', 'MiB', (t) => mib(t.json?.shifted.peak_rss));
  add(`(d) ${d.small.files} small files ${fmtMiB(d.small.bytes)}: backup`, 's', (t) => t.small_files?.backup.seconds);
  add('(d) backup', 'MiB/s', (t) => rate(d.small.bytes, t.small_files?.backup));
  add('(d) backup', 'files/s', (t) => (t.small_files ? d.small.files / t.small_files.backup.seconds : null));
  add('(d) backup, CPU user+sys (+ catalog server)', 's', (t) => cpu(t.small_files?.backup));
  add('(d) backup, peak RSS', 'MiB', (t) => mib(t.small_files?.backup.peak_rss));
  add('(d) backup, catalog server peak RSS', 'MiB', (t) => mib(t.small_files?.backup.helper_peak_rss));
  add('(d) storage objects created, all copies', 'files', (t) => t.small_files?.storage.files);
  add('(d) new shards / blobs', 'count', (t) => t.small_files?.backup.new_objects);
  add('(d) incremental re-backup of the unchanged tree', 's', (t) => t.small_files?.rebackup.seconds);
  add('(d) full backup, time reported by the tool', 's', (t) => t.small_files?.backup.tool_seconds);
  add('(d) incremental re-backup, time reported by the tool', 's', (t) => t.small_files?.rebackup.tool_seconds);
  add('(d) incremental re-backup, CPU user+sys (+ catalog server)', 's', (t) => cpu(t.small_files?.rebackup));
  return rows;
}

export function buildChecks(px: ToolResults[], rs: ToolResults[] | null): Report['checks'] {
  const checks: Report['checks'] = [];
  for (const [name, runs] of [['plexichat', px], ['restic', rs ?? []]] as const) {
    for (const [label, pick] of [
      ['(a)', (t: ToolResults) => t.incompressible?.restore.verify],
      ['(b)', (t: ToolResults) => t.json?.restore.verify],
    ] as const) {
      const outcomes = runs.map(pick).filter((v) => v !== undefined);
      if (!outcomes.length) continue;
      const bad = outcomes.find((v) => !v.ok);
      const first = outcomes[0]!;
      const detail = bad ? bad.problems.join('; ') : `${first.files_found} files, ${fmtMiB(first.bytes_checked)} compared by size + SHA-256`;
      checks.push({ name: `${name} restore ${label} byte-identical (${outcomes.filter((v) => v.ok).length} of ${outcomes.length} runs)`, ok: !bad, detail });
    }
    runs.forEach((t, i) => t.errors.forEach((e) => checks.push({ name: `${name} run ${i + 1}`, ok: false, detail: e })));
  }
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
  return [a?.backup, a?.restore, a?.rebackup, b?.backup, b?.restore, b?.shifted, d?.backup].filter((op): op is NonNullable<typeof op> => op !== undefined);
}

function median(values: (number | null | undefined)[]): number | null {
  const v = values.filter((x): x is number => typeof x === 'number').sort((x, y) => x - y);
  if (!v.length) return null;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

export function renderReport(r: Report): string {
  const s = r.settings;
  const head = ['metric', 'unit', 'plexichat', 'restic', 'ratio'];
  const body = r.rows.map((row) => [row.metric, row.unit, fmt(row.plexichat), fmt(row.restic), fmtRatio(row.ratio)]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((cells) => cells[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  const out = [
    `PlexiChat Backup benchmark — scale ${s.scale}, ${r.machine.nproc} cores, node ${r.machine.node_version}, ${r.machine.restic_version ?? 'restic not found'}`,
    `PlexiChat: replication_factor ${r.plexichat[0]?.copies ?? '?'} (copies on the same disk); restic: 1 copy. Page cache dropped before each timed operation: ${r.page_cache_dropped === null ? 'not tried' : r.page_cache_dropped ? 'yes' : 'NO (not permitted)'}.`,
    `Median of ${s.runs} run${s.runs > 1 ? 's' : ''} (the tools take turns; every run in results/latest.json). Wall times include process start-up; CPU times are less sensitive to other load than wall times; MiB = 2^20 bytes; ratio = plexichat ÷ restic.`,
    r.other_cpu_share === null ? '' : `Other processes on the machine used ${(r.other_cpu_share * 100).toFixed(0)}% of its CPU during the timed operations${r.other_cpu_share > 0.1 ? ' (a noisy machine: expect spread between runs)' : ''}.`,
    '',
    line(head),
    line(widths.map((w) => '-'.repeat(w))),
    ...body.map(line),
    '',
    '* PlexiChat reports new_bytes (compressed + encrypted, one copy); restic 0.14 reports data_added (before compression).',
    '',
    ...r.checks.map((c) => `${c.ok ? 'PASS' : 'FAIL'}  ${c.name}: ${c.detail}`),
    '',
    `Total ${(r.total_seconds / 60).toFixed(1)} min (datasets: ${datasetNote(r.datasets)}). Results: ${path.relative(process.cwd(), RESULTS_FILE)}`,
  ];
  return `${out.join('\n')}\n`;
}

export async function writeResults(r: Report): Promise<void> {
  await mkdir(path.dirname(RESULTS_FILE), { recursive: true });
  await writeFile(RESULTS_FILE, `${JSON.stringify(r, null, 2)}\n`);
}

function datasetNote(d: Datasets): string {
  const all = [d.incompressible, d.json, d.shifted, d.small];
  const made = all.filter((x) => x.generatedSeconds !== null);
  if (!made.length) return 'reused';
  return `${made.map((x) => x.name).join(', ')} generated in ${made.reduce((n, x) => n + (x.generatedSeconds ?? 0), 0).toFixed(0)} s`;
}

function fmtRatio(v: number | null): string {
  if (v === null) return '—';
  return v !== 0 && Math.abs(v) < 0.01 ? v.toPrecision(2) : v.toFixed(2);
}

function fmt(v: number | null): string {
  if (v === null) return '—';
  if (Math.abs(v) >= 1000) return Math.round(v).toLocaleString('en-US');
  return v.toFixed(Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2);
}

function fmtMiB(bytes: number): string {
  return bytes >= 1024 * MiB ? `${(bytes / 1024 / MiB).toFixed(2)} GiB` : `${(bytes / MiB).toFixed(bytes >= 10 * MiB ? 0 : 1)} MiB`;
}
