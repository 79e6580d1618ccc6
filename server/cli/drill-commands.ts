/**
 * `drill run` and `drill list`: restore drills from the shell (see server/engine/restore/drill.ts). main.ts hands
 * every command here; null means "not mine". A failed drill exits 3 (an integrity problem), like verify.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { DrillResult, DrillView } from '../engine/restore/drill';
import type { BackupEngine } from '../engine/engine';
import { alertOnDrill } from '../monitoring/hooks';
import { cliActor } from './actor';
import { EXIT, formatBytes, UsageError } from './output';

type Result = { json?: unknown; text?: string; code?: number };
type Opts = ParseArgsConfig['options'];
const common: Opts = { json: { type: 'boolean', default: false } };


function parse(args: string[], options: Opts) {
  try {
    return parseArgs({ args, options: { ...common, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}. Run plexichat-backup --help for usage.`);
  }
}

function percentOpt(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(String(v)) || !(n > 0 && n <= 100)) throw new UsageError(`--sample-percent must be a number above 0 and at most 100, got "${String(v)}".`);
  return n;
}

function wholeOpt(v: unknown, name: string, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(String(v)) || !Number.isSafeInteger(n) || n > max) throw new UsageError(`--${name} must be a whole number from 0 to ${max}, got "${String(v)}".`);
  return n;
}

const secs = (s: number | null) => (s === null ? '—' : s < 60 ? `${s.toFixed(1)} s` : `${(s / 60).toFixed(1)} min`);

export function drillLine(r: DrillResult): string {
  const what = r.sample_percent < 100 ? `${r.sample_percent} % sample (seed ${r.seed})` : 'whole backup';
  const head = `${r.status.toUpperCase()}  drill ${r.drill_id} of ${r.backup_id} (${r.sources.join(', ')}), ${what}`;
  const body = `  ${r.files_checked}/${r.files_total} file(s), ${formatBytes(r.bytes_checked)} checked${r.method ? ` by ${r.method}` : ''}; restore took ${secs(r.measured_seconds)}, RTO ${secs(r.rto_seconds)}`;
  return [head, body, r.note ? `  note: ${r.note}` : '', r.error ? `  error: ${r.error}` : ''].filter(Boolean).join('\n');
}

const viewLine = (d: DrillView) =>
  `${d.started_at}  ${d.status.padEnd(7)} ${d.backup_id}  ${d.sample_percent}%  ${d.files_checked} file(s) ${formatBytes(d.bytes_checked)}  RTO ${secs(d.rto_seconds)}  ${d.sources.join(', ')}${d.error ? `  ${d.error}` : ''}`;

export async function runDrillCommand(cmd: string, args: string[], open: () => Promise<BackupEngine>): Promise<Result | null> {
  if (cmd !== 'drill') return null;
  const [sub, ...rest] = args;
  if (sub === 'run') {
    const { values: v } = parse(rest, { backup: { type: 'string' }, 'sample-percent': { type: 'string' }, seed: { type: 'string' } });
    const opts = { samplePercent: percentOpt(v['sample-percent']), seed: wholeOpt(v.seed, 'seed', 2 ** 31 - 1), actor: cliActor() };
    const e = await open();
    const results = v.backup ? [await e.runDrill({ ...opts, backupId: v.backup as string })] : await e.runDrills(opts);
    for (const r of results) await alertOnDrill(e, r);
    const failed = results.some((r) => r.status === 'failed');
    return { json: results, text: results.map(drillLine).join('\n'), code: failed ? EXIT.integrity : EXIT.ok };
  }
  if (sub === 'list') {
    const { values: v } = parse(rest, { backup: { type: 'string' }, limit: { type: 'string' } });
    const limit = wholeOpt(v.limit, 'limit', 1000);
    const rows = await (await open()).listDrills({ backupId: v.backup as string | undefined, limit });
    return { json: rows, text: rows.length ? rows.map(viewLine).join('\n') : 'No drills yet. Run one with plexichat-backup drill run.' };
  }
  throw new UsageError('Usage: plexichat-backup drill run [--backup ID] [--sample-percent P] [--seed N] | drill list [--backup ID] [--limit N]');
}
