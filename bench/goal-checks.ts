/**
 * Issue 13's goal, judged from a comparison run, so that a bench says in its checks whether it was met and
 * where not: every time and throughput at least restic's (the medians' ratio ≥ 1.00; CPU rows are shown, not
 * judged), every repository within 3 % of restic's size, and the whole installation (the command's peak RSS
 * plus the catalog server's private memory) under 250 MiB during every backup of every run. Memory is judged
 * against that limit, not against restic: a Node command beside a PostgreSQL server is not a Go binary.
 */
import { fmtMiB, installationOnce, type Report, type Results, type Row } from './report';
import { MiB } from './settings';
import { fmtRatio } from './stats';
import type { OpFigures } from './tool';

export const FOOTPRINT_LIMIT_MIB = 250;
/** A repository may be this much larger than restic's. */
export const REPOSITORY_TOLERANCE = 0.03;

type Check = Report['checks'][number];

/** Units of the rows judged on speed. */
const SPEED_UNITS = new Set(['s', 'MiB/s', 'files/s']);

export function goalChecks(rows: Row[], results: Results): Check[] {
  const checks: Check[] = [];
  if (results.restic) {
    const labelled = withLabels(rows).filter(({ row }) => row.ratios.restic != null);
    const speed = labelled.filter(({ row }) => row.better !== null && SPEED_UNITS.has(row.unit) && !row.metric.includes('CPU'));
    checks.push(judge('plexichat against restic: every time and throughput ≥ 1.00 (issue 13)', speed, 1));
    const sizes = labelled.filter(({ row }) => row.unit === 'MiB' && row.metric.includes('repository'));
    checks.push(judge(`plexichat against restic: every repository within ${REPOSITORY_TOLERANCE * 100} % of restic's size (issue 13)`, sizes, 1 / (1 + REPOSITORY_TOLERANCE)));
  }
  const footprints = backupsOf(results).map(({ label, run, op }) => ({ label, run, mib: installationOnce(op) }));
  const measured = footprints.filter((f): f is typeof f & { mib: number } => f.mib !== null);
  if (measured.length) {
    const worst = measured.reduce((a, b) => (b.mib > a.mib ? b : a));
    const over = measured.filter((f) => f.mib >= FOOTPRINT_LIMIT_MIB);
    const name = `plexichat installation footprint < ${FOOTPRINT_LIMIT_MIB} MiB during every backup (command + catalog server's private memory; issue 13)`;
    const detail = over.length
      ? `${over.length} of ${measured.length} backups over: ${over.map((f) => `${f.label} run ${f.run} ${mib(f.mib)}`).join('; ')}`
      : `${measured.length} backups; the largest ${mib(worst.mib)} (${worst.label}, run ${worst.run})`;
    checks.push({ name, ok: over.length === 0, detail });
  }
  return checks;
}

function judge(name: string, rows: { row: Row; label: string }[], floor: number): Check {
  if (!rows.length) return { name, ok: false, detail: 'no row to judge (restic gave no figures)' };
  const low = rows.filter(({ row }) => row.ratios.restic! < floor);
  if (low.length) return { name, ok: false, detail: `${low.length} of ${rows.length} rows under ${fmtRatio(floor)}: ${low.map(({ row, label }) => `${label} ${fmtRatio(row.ratios.restic!)}`).join('; ')}` };
  const lowest = rows.reduce((a, b) => (b.row.ratios.restic! < a.row.ratios.restic! ? b : a));
  return { name, ok: true, detail: `${rows.length} rows; the lowest ${fmtRatio(lowest.row.ratios.restic!)} (${lowest.label})` };
}

/** Each row with a name that says which data it is about: its group's heading (up to the first comma) and the metric. */
function withLabels(rows: Row[]): { row: Row; label: string }[] {
  let group = '';
  return rows.map((row) => {
    if (!row.metric.startsWith(' ')) {
      const [head = '', ...rest] = row.metric.split(':');
      group = head.split(',')[0]!;
      return { row, label: rest.length ? `${group}: ${rest.join(':').trim()}` : group };
    }
    return { row, label: `${group}: ${row.metric.trim()}` };
  });
}

/** Every backup of every run of PlexiChat, named: the full backups, the shifted one, the unchanged re-backups. */
function backupsOf(results: Results): { label: string; run: number; op: OpFigures | undefined }[] {
  return results.plexichat.flatMap((t, i) => {
    const run = i + 1;
    return [
      { label: '(a) backup', run, op: t.incompressible?.backup },
      { label: '(a) unchanged re-backup', run, op: t.incompressible?.rebackup },
      { label: '(b) backup', run, op: t.json?.backup },
      { label: '(c) backup', run, op: t.json?.shifted },
      { label: '(d) backup', run, op: t.small_files?.backup },
      { label: '(d) unchanged re-backup', run, op: t.small_files?.rebackup },
      ...Object.entries(t.trees).flatMap(([name, g]) => [
        { label: `[tree] ${name} backup`, run, op: g.backup },
        { label: `[tree] ${name} unchanged re-backup`, run, op: g.rebackup },
      ]),
    ];
  });
}

/** A figure in MiB (installationOnce's unit), as the report prints sizes. */
const mib = (v: number) => fmtMiB(v * MiB);
