/**
 * Operations commands of the CLI: schedule, worker, report, health-check and alerts. main.ts hands every
 * command here first; null means "not mine".
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { SECURITY_LEVELS } from '../config';
import type { BackupEngine } from '../engine/engine';
import { nextRuns } from '../jobs/cron';
import { createSchedule, getSchedule, listSchedules, removeSchedule, SCHEDULE_TYPES, setPaused, toView, updateSchedule, type ScheduleView } from '../jobs/schedule-store';
import { runWorker } from '../jobs/run-worker';
import { ScheduleWorker } from '../jobs/worker';
import { acknowledgeAlert, ALERT_STATES, alertView, listAlerts, type AlertState } from '../monitoring/alert-store';
import { BackupHealthMonitor } from '../monitoring/health-monitor';
import { alertsFor } from '../monitoring/hooks';
import { formatReport, healthReport } from '../monitoring/report';
import { cliActor } from './actor';
import { UsageError } from './output';

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

function int(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a whole number ≥ 1, got "${String(v)}".`);
  return n;
}

const log = (l: string) => process.stderr.write(`${l}\n`);

function scheduleLine(s: ScheduleView): string {
  const last = s.last_run ? `last ${s.last_run.due_at} ${s.last_run.status}${s.last_run.late ? ' (late)' : ''}${s.last_run.backup_id ? ` ${s.last_run.backup_id}` : ''}` : 'never run';
  const type = s.backup_type === 'continuous' ? `continuous (${s.delay_seconds} s after changes${s.watcher ? `, watched by ${s.watcher.worker}` : ', no worker watching'})` : s.backup_type;
  return `${s.name}  "${s.cron}" ${s.timezone}  ${type} priority ${s.priority}  ${s.paths.join(', ')}  ${s.paused ? 'PAUSED' : `next ${s.next_run}`}  ${last}`;
}

async function schedule(args: string[], open: () => Promise<BackupEngine>): Promise<Result> {
  const [sub, ...rest] = args;
  const { values: v, positionals } = parse(rest, {
    name: { type: 'string' },
    cron: { type: 'string' },
    path: { type: 'string', multiple: true },
    type: { type: 'string' },
    'security-level': { type: 'string' },
    'retention-days': { type: 'string' },
    priority: { type: 'string' },
    tag: { type: 'string', multiple: true },
    timezone: { type: 'string' },
    delay: { type: 'string' },
    rename: { type: 'string' },
  });
  const name = () => {
    const n = positionals[0] ?? (v.name as string | undefined);
    if (!n) throw new UsageError(`schedule ${sub} needs a schedule name: plexichat-backup schedule ${sub} <name>.`);
    return n;
  };
  const e = await open();
  const db = e.catalog.db;
  const now = new Date();
  switch (sub) {
    case 'add': {
      if (!v.name || !v.cron || !v.path) throw new UsageError('schedule add needs --name N --cron "EXPR" --path P [--type T] [--delay S (continuous)] [--retention-days D] [--priority 1-10] [--tag T] [--timezone Z].');
      const type = (v.type as string | undefined) ?? 'full';
      if (!(SCHEDULE_TYPES as readonly string[]).includes(type)) throw new UsageError(`--type must be one of ${SCHEDULE_TYPES.join(', ')}; got "${type}".`);
      const level = v['security-level'] as string | undefined;
      if (level !== undefined && !(SECURITY_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--security-level must be one of ${SECURITY_LEVELS.join(', ')}.`);
      const row = await createSchedule(db, {
        name: String(v.name),
        cron: String(v.cron),
        timezone: (v.timezone as string | undefined) ?? 'UTC',
        paths: v.path as string[],
        backupType: type as (typeof SCHEDULE_TYPES)[number],
        securityLevel: (level ?? null) as (typeof SECURITY_LEVELS)[number] | null,
        tags: (v.tag as string[] | undefined) ?? [],
        retentionDays: int(v['retention-days'], 'retention-days') ?? null,
        priority: int(v.priority, 'priority') ?? 5,
        delaySeconds: int(v.delay, 'delay') ?? null,
      }, now);
      await e.audit({ actor: cliActor(), action: 'schedule.create', target: row.name, details: { cron: row.cron } });
      const view = toView(row, null, now);
      const next = nextRuns(row.cron, row.timezone, 5, now).map((d) => d.toISOString());
      return { json: { ...view, next_runs: next }, text: `Added ${scheduleLine(view)}\nnext runs: ${next.join(', ')}` };
    }
    case 'edit': {
      // Only the options given change; the rest keeps its current value.
      const cur = await getSchedule(db, name());
      const type = (v.type as string | undefined) ?? cur.backupType;
      if (!(SCHEDULE_TYPES as readonly string[]).includes(type)) throw new UsageError(`--type must be one of ${SCHEDULE_TYPES.join(', ')}; got "${type}".`);
      const level = (v['security-level'] as string | undefined) ?? cur.securityLevel;
      if (level !== null && !(SECURITY_LEVELS as readonly string[]).includes(level)) throw new UsageError(`--security-level must be one of ${SECURITY_LEVELS.join(', ')}.`);
      const row = await updateSchedule(db, cur.name, {
        name: (v.rename as string | undefined) ?? cur.name,
        cron: (v.cron as string | undefined) ?? cur.cron,
        timezone: (v.timezone as string | undefined) ?? cur.timezone,
        paths: (v.path as string[] | undefined) ?? cur.paths,
        backupType: type as (typeof SCHEDULE_TYPES)[number],
        securityLevel: level as (typeof SECURITY_LEVELS)[number] | null,
        tags: (v.tag as string[] | undefined) ?? cur.tags,
        retentionDays: int(v['retention-days'], 'retention-days') ?? cur.retentionDays,
        priority: int(v.priority, 'priority') ?? cur.priority,
        delaySeconds: type === 'continuous' ? (int(v.delay, 'delay') ?? cur.delaySeconds) : null,
      }, now);
      await e.audit({ actor: cliActor(), action: 'schedule.update', target: row.name, details: { cron: row.cron } });
      const view = toView(row, null, now);
      return { json: view, text: `Updated ${scheduleLine(view)}` };
    }
    case 'list': {
      const list = await listSchedules(db, now);
      return { json: list, text: list.length ? list.map(scheduleLine).join('\n') : 'No schedules. Add one with plexichat-backup schedule add.' };
    }
    case 'pause':
    case 'resume': {
      const row = await setPaused(db, name(), sub === 'pause', now);
      await e.audit({ actor: cliActor(), action: `schedule.${sub}`, target: row.name });
      return { json: toView(row, null, now), text: `${row.name} ${sub === 'pause' ? 'paused' : 'resumed'}` };
    }
    case 'remove': {
      const n = name();
      await removeSchedule(db, n);
      await e.audit({ actor: cliActor(), action: 'schedule.remove', target: n });
      return { json: { name: n, removed: true }, text: `Removed schedule ${n}` };
    }
    case 'run': {
      const s = await getSchedule(db, name());
      const worker = new ScheduleWorker(e, { events: alertsFor(e, log), log });
      const out = await worker.runNow(s.name);
      return { json: out, text: `${s.name}: ${out.status}${out.backup_id ? ` ${out.backup_id}` : ''}${out.error ? ` — ${out.error}` : ''}`, code: out.status === 'completed' ? 0 : 1 };
    }
    default:
      throw new UsageError('Usage: plexichat-backup schedule add|edit|list|pause|resume|remove|run …');
  }
}

async function alertsCmd(args: string[], open: () => Promise<BackupEngine>): Promise<Result> {
  const [sub, ...rest] = args;
  const { values: v, positionals } = parse(rest, { state: { type: 'string', multiple: true }, severity: { type: 'string' } });
  const e = await open();
  if (sub === 'ack') {
    const id = positionals[0];
    if (!id) throw new UsageError('alerts ack needs an alert id.');
    const row = alertView(await acknowledgeAlert(e.catalog.db, id, cliActor(), new Date()));
    return { json: row, text: `${row.id}: ${row.state}` };
  }
  if (sub === 'test') {
    const r = await alertsFor(e, log).sendTest(cliActor());
    return { json: r, text: r.length ? r.map((d) => `${d.channel}: ${d.ok ? 'sent' : `failed (${d.error})`}`).join('\n') : 'No alert channel is enabled (config key alerts).', code: r.every((d) => d.ok) ? 0 : 1 };
  }
  if (sub !== 'list' && sub !== undefined) throw new UsageError('Usage: plexichat-backup alerts list [--state open] [--severity critical] | ack <id> | test');
  const states = (v.state as string[] | undefined)?.filter((s): s is AlertState => (ALERT_STATES as readonly string[]).includes(s));
  const severity = v.severity === 'warning' || v.severity === 'critical' ? v.severity : undefined;
  const rows = (await listAlerts(e.catalog.db, { states, severity })).map(alertView);
  return { json: rows, text: rows.length ? rows.map((a) => `${a.id}  [${a.severity}] ${a.state.padEnd(12)} ${a.message}  ${a.link}`).join('\n') : 'No alerts.' };
}

export async function runOpsCommand(cmd: string, args: string[], open: () => Promise<BackupEngine>): Promise<Result | null> {
  switch (cmd) {
    case 'schedule':
      return schedule(args, open);
    case 'alerts':
      return alertsCmd(args, open);
    case 'worker': {
      const { values: v } = parse(args, { once: { type: 'boolean', default: false }, 'no-monitor': { type: 'boolean', default: false } });
      const out = await runWorker(await open(), { once: Boolean(v.once), monitor: !v['no-monitor'], log });
      return { json: out, text: `worker stopped after ${out.runs.length} run(s)` };
    }
    case 'health-check': {
      parse(args, {});
      const e = await open();
      const report = await new BackupHealthMonitor(e, alertsFor(e, log), { log }).runCycle();
      return { json: report, text: `${report.samples} samples recorded; verified ${report.verified.length} backup(s)${report.errors.length ? `; errors: ${report.errors.join('; ')}` : ''}`, code: report.errors.length ? 1 : 0 };
    }
    case 'report': {
      const { values: v } = parse(args, { days: { type: 'string' } });
      const r = await healthReport(await open(), { days: int(v.days, 'days') ?? 7 });
      return { json: r, text: formatReport(r) };
    }
    default:
      return null;
  }
}
