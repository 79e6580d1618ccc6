/**
 * plexichat-backup: the command-line face of the engine. Every command accepts --json and then prints
 * exactly one JSON document on stdout; logs and progress go to stderr. Exit status 0 only on success.
 */
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { withQuorumShares } from '../engine/keys/quorum';
import { type Config, loadConfig } from '../config';
import { CatalogReader } from '../engine/catalog-reader';
import type { BackupEngine } from '../engine/engine';
import { BACKUP_STATUSES, BACKUP_TYPES, type BackupMetadata, type BackupStatus, type BackupType, type ListBackupsFilter } from '../engine/types';
import { SECURITY_LEVELS, type SecurityLevel } from '../config';
import { cliActor } from './actor';
import { keptLine, lockedLines, releasedLines } from './locked-lines';
import { HELP } from './help.mjs';
import { assertInstallation, createsInstallation } from './installation';
import { EXIT, MAX_INT_OPT, ProgressBar, UsageError, errorDocument, errorMessage, exitCodeFor, formatBytes, printJson } from './output';

type Opts = ParseArgsConfig['options'];
const common: Opts = { json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } };

function parse(args: string[], options: Opts) {
  try {
    return parseArgs({ args, options: { ...common, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}. Run plexichat-backup --help for usage.`);
  }
}

function intOpt(v: unknown, name: string, max = MAX_INT_OPT): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!/^\s*\d+\s*$/.test(String(v)) || !Number.isSafeInteger(n) || n < 0 || n > max) throw new UsageError(`--${name} must be a whole number from 0 to ${max}, got "${String(v)}".`);
  return n;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], name: string): T | undefined {
  if (v === undefined) return undefined;
  const s = String(v).toLowerCase() as T;
  if (!allowed.includes(s)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}; got "${String(v)}".`);
  return s;
}

function needId(positionals: string[], cmd: string): string {
  const id = positionals[0];
  if (!id) throw new UsageError(`${cmd} needs a backup id: plexichat-backup ${cmd} <backup_id>. List them with plexichat-backup list.`);
  return id;
}

const actor = cliActor;

/** Alerting (channels, outbound policy, alert store): loaded by the commands that alert, not by `list`. */
const alertHooks = () => import('../monitoring/hooks');

function printBackup(b: BackupMetadata): void {
  const lines = [
    `${b.backup_id}  ${b.status}  ${b.backup_type}  ${b.security_level}`,
    `  sources:  ${b.sources.join(', ')}`,
    `  size:     ${formatBytes(b.original_size)} in ${b.file_count} files, ${b.shard_count} shards; new data stored: ${formatBytes(b.new_bytes)}`,
    `  ratios:   compression ${b.compression_ratio}×, ${Math.round(b.dedup_ratio * 100)} % already stored (dedup); ${b.throughput_mbps} MB/s in ${b.duration_seconds}s`,
  ];
  if (b.tags.length) lines.push(`  tags:     ${b.tags.join(', ')}`);
  if (b.error) lines.push(`  error:    ${b.error}`);
  if (b.suspicious) {
    const reasons = (b.change_summary as { verdict?: { reasons?: string[] } } | null)?.verdict?.reasons ?? [];
    const ack = b.suspicious_acknowledged_at ? `acknowledged by ${b.suspicious_acknowledged_by} at ${b.suspicious_acknowledged_at}` : `not acknowledged: the last good backup before it is kept (plexichat-backup acknowledge ${b.backup_id})`;
    lines.push(`  SUSPICIOUS: ${reasons.join('; ') || 'looks like mass encryption'} (${ack})`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** `list` shows the newest LIST_PAGE backups unless --limit or --all say otherwise. */
const LIST_PAGE = 50;

/** What `list` reads: the catalog through a CatalogReader, or the engine when the reader cannot open. */
type BackupListing = Pick<BackupEngine, 'listBackups' | 'countBackups'>;

/** `list --all`: every backup, read a page at a time (the engine returns at most 1000 per call). */
async function listEvery(e: BackupListing, filter: ListBackupsFilter, offset: number): Promise<BackupMetadata[]> {
  const out: BackupMetadata[] = [];
  for (;;) {
    const page = await e.listBackups({ ...filter, limit: 1000, offset: offset + out.length });
    out.push(...page);
    if (page.length < 1000) return out;
  }
}

export async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const wantsJson = rest.includes('--json');
  if (!cmd || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(`${HELP}\n`);
    return cmd ? EXIT.ok : EXIT.usage;
  }
  let engine: BackupEngine | undefined;
  let reader: CatalogReader | undefined;
  try {
    const config = loadConfig();
    for (const notice of config.notices ?? []) process.stderr.write(`NOTE: ${notice}\n`);
    // MAXIMUM quorum shares are accepted by every command and live only for this one run (never stored).
    const { shares, args } = takeShares(rest);
    const mayCreate = createsInstallation(cmd, args);
    const log = (l: string) => process.stderr.write(`${l}\n`);
    // The engine's code (backup, restore, maintenance, storage) loads only for a command that opens it.
    const open = async () => {
      if (!engine && !mayCreate) assertInstallation(config, cmd);
      if (!engine) {
        const { BackupEngine } = await import('../engine/engine');
        engine ??= await BackupEngine.open(config, { log });
      }
      return engine;
    };
    // Reading the backups list needs the catalog, not storage: the engine opens only when the reader cannot.
    const read = async (): Promise<BackupListing> => {
      if (engine) return engine;
      assertInstallation(config, cmd);
      reader ??= (await CatalogReader.open(config, { log })) ?? undefined;
      return reader ?? open();
    };
    const result = await withQuorumShares(shares, async () => (await runElsewhere(cmd, args, open, config)) ?? (await run(cmd, args, open, read)));
    if (result.json !== undefined && wantsJson) printJson(result.json);
    else if (result.text) process.stdout.write(`${result.text}\n`);
    return result.code ?? EXIT.ok;
  } catch (err) {
    if (wantsJson) printJson(errorDocument(err));
    const hint = exitCodeFor(err) === EXIT.failure && !(err instanceof UsageError) ? `\n(unexpected error; details: ${(err as Error).stack?.split('\n')[1]?.trim() ?? 'n/a'})` : '';
    process.stderr.write(`Error: ${errorMessage(err)}${hint}\n`);
    return exitCodeFor(err);
  } finally {
    await reader?.close().catch(() => undefined);
    await engine?.close().catch(() => undefined);
  }
}

/**
 * The commands kept in modules of their own, each loaded only when one of its commands runs: `list` or
 * `backup` does not load the scheduler, the health monitor or key rotation. null: a command of run() below.
 */
async function runElsewhere(cmd: string, args: string[], open: () => Promise<BackupEngine>, config: Config): Promise<Result | null> {
  switch (cmd) {
    case 'keys':
      return (await import('./key-commands')).runKeyCommand(cmd, args, open, config);
    case 'schedule':
    case 'alerts':
    case 'worker':
    case 'health-check':
    case 'report':
      return (await import('./ops-commands')).runOpsCommand(cmd, args, open);
    case 'drill':
      return (await import('./drill-commands')).runDrillCommand(cmd, args, open);
    case 'user':
      return (await (await import('./user-commands')).runUserCommand(cmd, args, open)) ?? null;
    default:
      return null;
  }
}

/** Pulls `--share LINE` (repeatable) and `--shares-file FILE` (one share per line) out of the arguments. */
function takeShares(argv: string[]): { shares: string[]; args: string[] } {
  const shares: string[] = [];
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.startsWith('--share') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (flag !== '--share' && flag !== '--shares-file') {
      args.push(a);
      continue;
    }
    const value = inline ?? argv[++i];
    if (!value) throw new UsageError(`${flag} needs a value (a share line, or a file with one share per line).`);
    if (flag === '--share') shares.push(value);
    else shares.push(...readFileSync(value, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean));
  }
  return { shares, args };
}

interface Result {
  json?: unknown;
  text?: string;
  code?: number;
}

async function run(cmd: string, args: string[], open: () => Promise<BackupEngine>, read: () => Promise<BackupListing>): Promise<Result> {
  switch (cmd) {
    case 'backup': {
      const { values: v, positionals } = parse(args, {
        type: { type: 'string' },
        'security-level': { type: 'string' },
        tag: { type: 'string', multiple: true },
        'retention-days': { type: 'string' },
        priority: { type: 'string' },
      });
      if (!positionals.length) throw new UsageError('backup needs at least one path: plexichat-backup backup <path>...');
      const e = await open();
      const { watchBackup } = await alertHooks();
      const bar = new ProgressBar();
      const { backup_id, done } = await e.startBackup({
        paths: positionals,
        backupType: oneOf<BackupType>(v.type, BACKUP_TYPES, 'type'),
        securityLevel: oneOf<SecurityLevel>(v['security-level'], SECURITY_LEVELS, 'security-level'),
        tags: v.tag as string[] | undefined,
        retentionDays: intOpt(v['retention-days'], 'retention-days'),
        priority: intOpt(v.priority, 'priority'),
        // The console's "Created by": the OS user who ran the command.
        userId: actor(),
        metadata: { created_by: actor(), via: 'cli' },
        actor: actor(),
      });
      let shownPosition: number | null = null;
      const timer = setInterval(() => {
        void e.getBackupProgress(backup_id).then((p) => {
          if (p?.phase === 'queued') {
            if (p.queue_position !== shownPosition) process.stderr.write(`${backup_id}: queued (position ${p.queue_position ?? '?'}), waiting for a free slot (max_concurrent_backups)\n`);
            shownPosition = p.queue_position ?? null;
            return;
          }
          if (p) bar.update({ bytesDone: p.bytes_done, bytesTotal: p.bytes_total, filesDone: p.files_done, filesTotal: p.files_total, mbps: p.throughput_mbps, eta: p.eta_seconds });
        });
      }, 200);
      const watched = watchBackup(e, backup_id, done); // alerts on the outcome; never rejects
      try {
        const meta = await done;
        bar.done();
        if (!v.json) printBackup(meta);
        return { json: meta };
      } finally {
        clearInterval(timer);
        await watched;
      }
    }
    case 'watch': {
      const { values: v, positionals } = parse(args, { delay: { type: 'string' }, tag: { type: 'string', multiple: true } });
      if (!positionals.length) throw new UsageError('watch needs at least one directory: plexichat-backup watch <path>... [--delay SECONDS]');
      const delaySeconds = v.delay === undefined ? 60 : Number(v.delay);
      if (!Number.isFinite(delaySeconds) || delaySeconds < 0) throw new UsageError(`--delay must be a number of seconds, got "${String(v.delay)}".`);
      const { ContinuousWatcher } = await import('../jobs/continuous');
      const e = await open();
      const { alertOnBackup } = await alertHooks();
      // Each backup's outcome alerts like any other (a suspicious change included).
      const onBackup = (meta: BackupMetadata) => void alertOnBackup(e, meta);
      const w = new ContinuousWatcher(e, { paths: positionals, delayMs: delaySeconds * 1000, tags: v.tag as string[] | undefined, log: (l) => process.stderr.write(`${l}\n`), onBackup });
      await w.start();
      process.stderr.write(`watching ${positionals.join(', ')}: a backup ${delaySeconds}s after changes; Ctrl-C to stop\n`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', resolve);
        process.once('SIGTERM', resolve);
      });
      await w.stop();
      return { json: { stopped: true }, text: 'stopped watching' };
    }
    case 'list': {
      const { values: v } = parse(args, { status: { type: 'string' }, type: { type: 'string' }, tag: { type: 'string', multiple: true }, limit: { type: 'string' }, offset: { type: 'string' }, all: { type: 'boolean', default: false } });
      const backupType = oneOf<BackupType>(v.type, BACKUP_TYPES, 'type');
      if (v.all && v.limit !== undefined) throw new UsageError('--all lists every backup; leave out --limit (or page with --limit and --offset).');
      // Checked before the engine opens.
      const page = { limit: intOpt(v.limit, 'limit') ?? LIST_PAGE, offset: intOpt(v.offset, 'offset') ?? 0 };
      const filter = {
        status: oneOf<BackupStatus>(v.status, BACKUP_STATUSES, 'status'),
        backupType,
        collapseContinuous: !v.all && backupType !== 'continuous',
        tags: v.tag as string[] | undefined,
      };
      const e = await read();
      const [list, total] = v.all ? [await listEvery(e, filter, page.offset), null] : await Promise.all([e.listBackups({ ...filter, ...page }), e.countBackups(filter)]);
      const lines = list.map((b) => `${b.backup_id}  ${b.status.padEnd(9)} ${b.created_at}  ${formatBytes(b.original_size).padStart(10)}  ${b.file_count} files  ${b.tags.join(',')}`);
      const more = total === null ? 0 : total - page.offset - list.length;
      if (more > 0) lines.push(`… ${more} more (newest first; --offset ${page.offset + list.length} for the next ${Math.min(more, page.limit)}, --all for every one)`);
      const text = lines.length ? lines.join('\n') : total ? `No backups at --offset ${page.offset}; there are ${total}.` : 'No backups yet. Make one with: plexichat-backup backup <path>';
      return { json: list, text };
    }
    case 'show': {
      const { positionals } = parse(args, {});
      const id = needId(positionals, 'show');
      const b = await (await open()).getBackup(id);
      if (!b) throw new UsageError(`Backup ${id} not found; run plexichat-backup list to see existing backups.`);
      printIfText(args, () => printBackup(b));
      return { json: b };
    }
    case 'ls': {
      const { values: v, positionals } = parse(args, { filter: { type: 'string' }, limit: { type: 'string' }, offset: { type: 'string' } });
      const id = needId(positionals, 'ls');
      const limit = v.limit === undefined ? 1000 : Number(v.limit);
      const offset = v.offset === undefined ? 0 : Number(v.offset);
      if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_INT_OPT || !Number.isSafeInteger(offset) || offset < 0 || offset > MAX_INT_OPT) throw new UsageError('--limit must be a whole number ≥ 1 and --offset ≥ 0.');
      const r = await (await open()).listBackupFiles(id, { filter: v.filter as string | undefined, limit, offset, actor: actor() });
      const lines = r.entries.map((e) => `${e.type === 'dir' ? 'd' : e.type === 'symlink' ? 'l' : '-'} ${String(e.size).padStart(12)} ${e.mtime.slice(0, 19).replace('T', ' ')}  ${e.path}`);
      if (r.total > offset + r.entries.length) lines.push(`… ${r.total - offset - r.entries.length} more (--offset ${offset + r.entries.length})`);
      return { json: r, text: lines.join('\n') || 'No file matches.' };
    }
    case 'progress': {
      const { positionals } = parse(args, {});
      const id = needId(positionals, 'progress');
      const p = await (await open()).getBackupProgress(id);
      if (!p) throw new UsageError(`Backup ${id} not found; run plexichat-backup list to see existing backups.`);
      return { json: p, text: `${p.backup_id} ${p.status} ${p.phase}: ${p.percent}%  ${formatBytes(p.bytes_done)}/${formatBytes(p.bytes_total)}  ${p.files_done}/${p.files_total} files  ${p.throughput_mbps} MB/s  ETA ${p.eta_seconds ?? '--'}s` };
    }
    case 'verify': {
      const { values: v, positionals } = parse(args, { 'read-data': { type: 'boolean', default: false } });
      const r = await (await open()).verifyBackup(needId(positionals, 'verify'), { readData: Boolean(v['read-data']), actor: actor() });
      await (await alertHooks()).alertOnVerify(await open(), r);
      const lines = [`${r.backup_id}: ${r.status} (${r.shards_checked} shards, ${r.replicas_checked} replicas checked${r.read_data ? ', data read and decrypted' : ''})`];
      for (const b of r.bad_shards) lines.push(`  ${b.message}`);
      if (r.affected_files.length) lines.push(`  affected files: ${r.affected_files.join(', ')}`);
      if (r.status === 'degraded') lines.push(`  All data is still recoverable. Run: plexichat-backup repair ${r.backup_id}`);
      if (r.status === 'corrupted') lines.push('  Some data is lost: the files above cannot be restored from this backup.');
      return { json: r, text: lines.join('\n'), code: r.status === 'healthy' ? EXIT.ok : EXIT.integrity };
    }
    case 'repair': {
      const { positionals } = parse(args, {});
      const r = await (await open()).repairBackup(needId(positionals, 'repair'), { actor: actor() });
      const pieces = r.repaired.filter((x) => x.piece !== undefined).length;
      const copies = r.repaired.length - pieces;
      const what = `${copies} ${copies === 1 ? 'copy' : 'copies'}${pieces ? ` and ${pieces} erasure-coded ${pieces === 1 ? 'piece' : 'pieces'}` : ''}`;
      const text = `${r.backup_id}: rewrote ${what}; now ${r.status}${r.unrepairable.length ? `; unrepairable shards: ${r.unrepairable.join(', ')}` : ''}`;
      return { json: r, text, code: r.status === 'healthy' ? EXIT.ok : EXIT.integrity };
    }
    case 'restore': {
      const { values: v, positionals } = parse(args, { target: { type: 'string' }, include: { type: 'string', multiple: true }, from: { type: 'string' }, to: { type: 'string' }, overwrite: { type: 'boolean', default: false }, 'preserve-special-bits': { type: 'boolean', default: false }, 'allow-partial': { type: 'boolean', default: false }, 'min-shard-threshold': { type: 'string' }, 'skip-shard-repair': { type: 'boolean', default: false } });
      const id = needId(positionals, 'restore');
      if (!v.target) throw new UsageError('restore needs --target DIR (an empty directory to restore into).');
      const threshold = v['min-shard-threshold'] === undefined ? undefined : Number(v['min-shard-threshold']);
      if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) throw new UsageError('--min-shard-threshold must be a number from 0 to 1 (e.g. 0.8).');
      if ((threshold !== undefined || v['skip-shard-repair']) && !v['allow-partial']) throw new UsageError('--min-shard-threshold and --skip-shard-repair go with --allow-partial.');
      const bar = new ProgressBar();
      const started = Date.now();
      const eng = await open();
      const { watchRestore } = await alertHooks();
      // Recorded in restore_jobs like a console restore: the console's Restores page shows it, with its progress.
      const { result: r, restore_id } = await watchRestore(eng, id, () =>
        eng.runRecordedRestore(
          {
            backupId: id,
            target: path.resolve(String(v.target)),
            options: {
              include: v.include as string[] | undefined,
              dateRange: v.from || v.to ? { start: v.from as string | undefined, end: v.to as string | undefined } : undefined,
              overwrite: Boolean(v.overwrite),
              preserveSpecialBits: Boolean(v['preserve-special-bits']),
              allowPartial: Boolean(v['allow-partial']),
              minShardThreshold: threshold,
              repairMissingShards: !v['skip-shard-repair'],
            },
            actor: actor(),
            actorRole: null,
            via: 'cli',
          },
          (p) => bar.update({ ...p, mbps: p.bytesDone / 1048576 / Math.max(0.001, (Date.now() - started) / 1000), eta: null }),
        ).then((x) => ({ ...x, duration_seconds: x.result.duration_seconds })),
      );
      bar.done();
      const text = `Restored ${r.files_restored} entries (${formatBytes(r.bytes_restored)}) to ${r.target} in ${r.duration_seconds.toFixed(1)}s (${r.throughput_mbps} MB/s)`;
      if (!r.lost) return { json: { ...r, restore_id }, text };
      const lostText = r.lost.length
        ? `\n${r.lost.length} file(s) lost (${Math.round((r.readable_fraction ?? 0) * 1000) / 10}% of the needed shards readable):\n${r.lost.map((f) => `  ${f.path} (${formatBytes(f.bytes)})`).join('\n')}`
        : '';
      return { json: { ...r, restore_id }, text: text + lostText, code: r.lost.length ? EXIT.integrity : EXIT.ok };
    }
    case 'acknowledge': {
      const id = needId(parse(args, {}).positionals, 'acknowledge');
      const e = await open();
      const meta = await e.acknowledgeSuspicious(id, { actor: actor() });
      await (await alertHooks()).resolveSuspiciousAlert(e, id, actor());
      return { json: meta, text: `Acknowledged suspicious backup ${id}: retention applies normally to its sources again.` };
    }
    case 'delete': {
      const { values: v, positionals } = parse(args, { force: { type: 'boolean', default: false } });
      const id = needId(positionals, 'delete');
      const r = await (await open()).deleteBackupReport(id, { force: Boolean(v.force), actor: actor() });
      return { json: { backup_id: id, ...r }, text: [`Deleted ${id}`, ...lockedLines(r.kept_locked)].join('\n') };
    }
    case 'prune':
    case 'cleanup': {
      const { values: v } = parse(args, {
        'keep-last': { type: 'string' },
        'keep-daily': { type: 'string' },
        'keep-weekly': { type: 'string' },
        'keep-monthly': { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
      });
      const rules = {
        keepLast: intOpt(v['keep-last'], 'keep-last'),
        keepDaily: intOpt(v['keep-daily'], 'keep-daily'),
        keepWeekly: intOpt(v['keep-weekly'], 'keep-weekly'),
        keepMonthly: intOpt(v['keep-monthly'], 'keep-monthly'),
      };
      const plan = await (await open()).prune(rules, { dryRun: Boolean(v['dry-run']), actor: actor() });
      const lines = [
        ...plan.keep.map((k) => `keep    ${k.backup_id}  (${k.reasons.join(', ')})`),
        ...plan.remove.map((r) => `${plan.dry_run ? 'would remove' : 'remove'}  ${r.backup_id}  (${r.reason})`),
        `${plan.dry_run ? 'dry run: nothing removed' : `removed ${plan.removed} backup(s)`}; kept ${plan.keep.length}`,
        ...lockedLines(plan.kept_locked),
        ...releasedLines(plan.released, plan.dry_run),
      ];
      return { json: plan, text: lines.join('\n') };
    }
    case 'recover-catalog': {
      const { values: v } = parse(args, { 'read-data': { type: 'boolean', default: false }, 'skip-catalog-snapshot': { type: 'boolean', default: false } });
      const r = await (await open()).rebuildCatalog({ actor: actor(), readData: Boolean(v['read-data']), skipCatalogSnapshot: Boolean(v['skip-catalog-snapshot']) });
      const cs = r.catalog_snapshot;
      const text = [
        cs.used
          ? `Catalog snapshot ${cs.used} (${cs.created_at}): ${cs.restored.users} user(s), ${cs.restored.schedules} schedule(s), ${cs.restored.settings} setting(s), ${cs.restored.locations} location(s)${cs.locations.length ? ` [${cs.locations.join(', ')}]` : ''}, ${cs.restored.audit_events} audit event(s), ${cs.restored.restore_drills} restore drill(s), ${cs.restored.restore_jobs} restore job(s) restored.`
          : `No catalog snapshot restored: ${cs.not_restored_reason}. Users, schedules, alert settings and console-added locations must be set up again.`,
        ...cs.kept_existing.map((k) => `  ${k} already existed in this catalog: kept it, not the snapshot's`),
        ...cs.rejected.map((x) => `  refused catalog snapshot ${x.object}: ${x.reason}`),
        ...(cs.audit_left_out ? [`  ${cs.audit_left_out} audit event(s) older than the snapshot's cap were not in it.`] : []),
        `Rebuilt from storage in ${r.duration_seconds.toFixed(1)}s: ${r.backups} backup(s), ${r.shards} shard(s), ${r.keys} key(s).`,
        ...r.damaged_backups.map((b) => `  ${b.backup_id} is ${b.status}: ${b.reason}. Run: plexichat-backup verify ${b.backup_id}`),
        ...r.skipped_backups.map((b) => `  could not recover ${b.backup_id}: ${b.reason}`),
        ...r.damaged_objects.map((d) => `  damaged object ${d}`),
        ...r.incomplete_locations.map((l) => `  could not list ${l.location}: ${l.error}`),
        ...(r.unverified_shards ? [`  ${r.unverified_shards} data shard(s) were not read: run verify --read-data (or recover-catalog --read-data) before new backups deduplicate onto them.`] : []),
        ...(r.unreferenced_count ? [`  ${r.unreferenced_count} data object(s) belong to no backup; storage gc removes them.`] : []),
      ].join('\n');
      const damaged = r.damaged_backups.length + r.skipped_backups.length + r.damaged_objects.length + r.incomplete_locations.length + cs.rejected.length;
      return { json: r, text, code: damaged ? EXIT.integrity : EXIT.ok };
    }
    case 'stats': {
      parse(args, {});
      const s = await (await open()).getStatistics();
      // The spec's figures, then the performance metrics; --json has every name (docs/statistics.md).
      const line = (k: string, val: unknown) => `${k.padEnd(28)} ${val ?? '—'}`;
      const text = [
        ...Object.entries(s.statistics).map(([k, val]) => line(k, val)),
        line('storage_usage_percentage', s.storage_usage_percentage),
        line('unique_shards', s.unique_shards),
        line('total_stored_bytes', s.total_stored_bytes),
        'performance_metrics:',
        ...Object.entries(s.performance_metrics).map(([k, val]) => `  ${k.padEnd(26)} ${val ?? '—'}`),
      ];
      return { json: s, text: text.join('\n') };
    }
    case 'storage': {
      const { values: v, positionals } = parse(args, { 'dry-run': { type: 'boolean', default: false }, 'grace-hours': { type: 'string' }, 'append-only-delete': { type: 'boolean', default: false } });
      if (positionals[0] === 'gc') {
        return storageGc(await open(), { dryRun: Boolean(v['dry-run']), graceHours: hoursOpt(v['grace-hours'], 'grace-hours'), appendOnlyDelete: Boolean(v['append-only-delete']) });
      }
      if (v['grace-hours'] !== undefined) throw new UsageError('--grace-hours applies only to plexichat-backup storage gc.');
      const e = await open();
      if (positionals[0] === 'optimize') {
        const r = await e.optimizeStorage({ dryRun: args.includes('--dry-run'), actor: actor() });
        const text = `${r.dry_run ? 'dry run: ' : ''}${r.shards_checked} shards checked; ${r.copies_added} copies ${r.dry_run ? 'to add' : 'added'}, ${r.copies_removed} ${r.dry_run ? 'to remove' : 'removed'}${r.problems.length ? `; problems: ${r.problems.join('; ')}` : ''}`;
        return { json: r, text, code: r.problems.length ? EXIT.unavailable : EXIT.ok };
      }
      if (positionals[0] === 'health') {
        const h = await e.getStorageHealth();
        return { json: h, text: h.map((l) => `${l.name.padEnd(16)} ${l.reachable ? 'reachable' : 'UNREACHABLE'}  ${l.latency_ms ?? '--'} ms  ${l.last_error ?? ''}`).join('\n') };
      }
      const u = await e.getStorageUsage();
      return { json: u, text: u.map((l) => `${l.name.padEnd(16)} ${l.type.padEnd(6)} ${formatBytes(l.used_bytes).padStart(10)}  ${l.objects} objects  ${l.usage_percentage ?? '-'}%`).join('\n') };
    }
    default:
      throw new UsageError(`Unknown command "${cmd}". Run plexichat-backup --help for the list of commands.`);
  }
}

function hoursOpt(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (String(v).trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number of hours, 0 or more (e.g. 24 or 0.5); got "${String(v)}".`);
  return n;
}

async function storageGc(e: BackupEngine, opts: { dryRun: boolean; graceHours?: number; appendOnlyDelete?: boolean }): Promise<Result> {
  const r = await e.sweepOrphans({ ...opts, actor: actor() });
  const size = (t: { objects: number; bytes: number }) => `${t.objects} (${formatBytes(t.bytes)})`;
  const lines = [r.dry_run ? 'dry run: nothing was marked or deleted' : `grace period ${r.grace_hours} h`];
  const p = r.previous_mark;
  if (p) {
    const why = p.state === 'ripe' ? 'its objects were re-checked and deleted' : p.state === 'grace_period' ? `nothing is deleted before ${p.ripe_at}` : `waiting for running backups: ${p.waiting_for.join(', ')}`;
    lines.push(`earlier mark: ${p.candidates} object(s) and ${p.shards} unreferenced shard(s) marked at ${p.marked_at}; ${why}`);
  }
  const sh = r.shards;
  const shKept = Object.entries(sh.kept.reasons).map(([k, n]) => `${k} ${n}`).join(', ');
  lines.push(
    `unreferenced shards: ${r.dry_run ? 'would delete' : 'deleted'} ${sh.deleted.shards} with ${size(sh.deleted)} object(s); ${r.dry_run ? 'would mark' : 'marked'} ${sh.marked.shards} with ${size(sh.marked)} object(s); kept ${sh.kept.shards}${shKept ? ` (${shKept})` : ''}`,
  );
  for (const l of r.locations) {
    const reasons = Object.entries(l.kept.reasons).map(([k, n]) => `${k} ${n}`).join(', ');
    const verb = r.dry_run ? ['would mark', 'would delete'] : ['marked', 'deleted'];
    lines.push(
      `${l.location.padEnd(16)} ${l.scanned.objects} objects scanned; ${verb[0]} ${size(l.marked)}; ${verb[1]} ${size(l.deleted)}; kept ${size(l.kept)}${reasons ? ` (${reasons})` : ''}${l.skipped_reason ? `; NOT SWEPT: ${l.skipped_reason}` : ''}`,
    );
  }
  if (r.new_mark) {
    const running = r.new_mark.running_backups_at_mark;
    const after = `a run after ${r.grace_hours} h${running.length ? `, once backups ${running.join(', ')} have ended,` : ''} deletes those still unreferenced then`;
    lines.push(`${r.new_mark.candidates} object(s) and ${r.new_mark.shards} unreferenced shard(s) ${r.dry_run ? 'would be ' : ''}marked; ${after}`);
  }
  lines.push(...lockedLines(r.shards.objects_locked));
  for (const l of r.locations) for (const o of l.objects) if (o.reason === 'locked') lines.push(keptLine({ location: l.location, key: o.key, locked_until: o.locked_until ?? null }));
  lines.push(...releasedLines(r.released, r.dry_run));
  for (const problem of r.problems) lines.push(`problem: ${problem}`);
  return { json: r, text: lines.join('\n'), code: r.problems.length ? EXIT.unavailable : EXIT.ok };
}

function printIfText(args: string[], fn: () => void): void {
  if (!args.includes('--json')) fn();
}
