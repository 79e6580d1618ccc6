/**
 * The console and `list` at scale (issue 13: under 300 ms at 10,000 backups / 1,000,000 shards). For each
 * catalog (the embedded PGlite one, and PostgreSQL when BENCH_DATABASE_URL or TEST_DATABASE_URL names a
 * server), a fresh installation with two local locations gets one real backup through the engine (5,000
 * files in ~100 shards: the backup detail page browses its manifest), then bulk SQL fills the catalog up to
 * BENCH_SCALE_BACKUPS backups and BENCH_SCALE_SHARDS shards (bench/catalog-fill.ts). On PostgreSQL the
 * tables are then ANALYZEd, as autovacuum does within a minute of such inserts; PGlite has no autovacuum, so
 * it is measured as the engine leaves it.
 *
 * Then, BENCH_SCALE_RUNS times after one warm-up, every tRPC procedure each page calls when it opens (the
 * same inputs as its components) is timed through a caller with an admin's context and the console's live
 * services: its server time, one after the other (a page's time is their sum: an upper bound, the browser
 * sends them together). And `plexichat-backup list` is timed as a CLI process (wall time, start to exit).
 * Results: bench/results/scale-latest.json.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { fillCatalog } from './catalog-fill';
import { stopByLock } from './rebuild';
import { type BenchSettings, CLI, PLEXICHAT_KEY, REPO_ROOT } from './settings';
import { fmtNumber, fmtSpread, type Spread, spreadOf } from './stats';
import type { MachineFacts } from './system';

export const SCALE_RESULTS_FILE = path.join(REPO_ROOT, 'bench', 'results', 'scale-latest.json');
/** Issue 13's target, for every page's server time and for `list`. */
const TARGET_MS = 300;

type CatalogKind = 'embedded' | 'postgres';

export interface ScaleSettings {
  backups: number;
  shards: number;
  files: number;
  runs: number;
  catalogs: CatalogKind[];
  databaseUrl: string | null;
  /** BENCH_SCALE_KEEP=1: leave the PostgreSQL database (and the installation) behind, to look at query plans. */
  keep: boolean;
  /** BENCH_SCALE_REUSE=1: measure the embedded installation an earlier run left (no new fill; it must be of the same size). */
  reuse: boolean;
}

export function scaleSettings(env: NodeJS.ProcessEnv = process.env): ScaleSettings {
  const int = (name: string, dflt: number, min: number, max: number) => {
    const v = Number(env[name] ?? dflt);
    if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be a whole number from ${min} to ${max}; got "${env[name]}".`);
    return v;
  };
  const databaseUrl = env.BENCH_DATABASE_URL || env.TEST_DATABASE_URL || null;
  const asked = (env.BENCH_SCALE_CATALOGS ?? (databaseUrl ? 'postgres,embedded' : 'embedded')).split(',').map((x) => x.trim()).filter(Boolean);
  for (const c of asked) {
    if (c !== 'embedded' && c !== 'postgres') throw new Error(`BENCH_SCALE_CATALOGS takes embedded, postgres (separated by commas); got "${c}".`);
    if (c === 'postgres' && !databaseUrl) throw new Error('BENCH_SCALE_CATALOGS=postgres needs BENCH_DATABASE_URL (or TEST_DATABASE_URL): a PostgreSQL server where the benchmark may create and drop a database.');
  }
  return {
    backups: int('BENCH_SCALE_BACKUPS', 10_000, 100, 1_000_000),
    shards: int('BENCH_SCALE_SHARDS', 1_000_000, 10_000, 100_000_000),
    files: int('BENCH_SCALE_FILES', 5_000, 10, 1_000_000),
    runs: int('BENCH_SCALE_RUNS', 5, 1, 50),
    catalogs: asked as CatalogKind[],
    databaseUrl,
    keep: env.BENCH_SCALE_KEEP === '1',
    reuse: env.BENCH_SCALE_REUSE === '1',
  };
}

/** One procedure call of a page, as its component sends it. */
interface Call {
  page: string;
  name: string;
  run: () => Promise<unknown>;
}

export interface ProcedureFigures {
  page: string;
  name: string;
  ms: Spread | null;
  /** What came back, in short: rows, totals (so a figure is never of an empty answer). */
  shape: string;
}

export interface CatalogFigures {
  catalog: CatalogKind;
  fill_seconds: number;
  detail_backup: { backup_id: string; files: number; shards: number; seconds: number };
  procedures: ProcedureFigures[];
  pages: { page: string; ms: Spread | null }[];
  cli_list_ms: Spread | null;
  cli_list_printed: string;
}

export interface ScaleReport {
  generated_at: string;
  settings: ScaleSettings;
  catalogs: CatalogFigures[];
  machine: MachineFacts;
}

export async function runScaleBench(s: BenchSettings, machine: MachineFacts, log: (line: string) => void, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const settings = scaleSettings(env);
  const report: ScaleReport = { generated_at: new Date().toISOString(), settings: { ...settings, databaseUrl: settings.databaseUrl ? '(set)' : null }, catalogs: [], machine };
  let failed = false;
  for (const kind of settings.catalogs) {
    try {
      report.catalogs.push(await benchCatalog(kind, settings, path.join(s.workDir, 'scale', kind), log));
    } catch (err) {
      log(`scale (${kind}): FAILED: ${(err as Error).stack ?? (err as Error).message}`);
      failed = true;
    }
  }
  process.stdout.write(renderScale(report));
  await mkdir(path.dirname(SCALE_RESULTS_FILE), { recursive: true });
  await writeFile(SCALE_RESULTS_FILE, `${JSON.stringify(report, null, 2)}\n`);
  return failed || !report.catalogs.every(underTarget) ? 1 : 0;
}

function underTarget(c: CatalogFigures): boolean {
  return c.pages.every((p) => p.ms !== null && p.ms.max < TARGET_MS) && c.cli_list_ms !== null && c.cli_list_ms.median < TARGET_MS;
}

async function benchCatalog(kind: CatalogKind, s: ScaleSettings, dir: string, log: (line: string) => void): Promise<CatalogFigures> {
  // An embedded installation left by an earlier run (BENCH_SCALE_REUSE=1) is measured again as it is: no new fill.
  const reuse = kind === 'embedded' && s.reuse && existsSync(path.join(dir, 'data'));
  if (!reuse) {
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true });
  }
  const db = kind === 'postgres' ? await createDatabase(s.databaseUrl!) : null;
  const cfg = path.join(dir, 'config.json');
  const store = (name: string) => ({ name, type: 'local', path: path.join(dir, 'storage', name) });
  // 256 KiB shards (the smallest allowed): 5,000 files of ~5 KiB make about 100 of them.
  if (!reuse) await writeFile(cfg, JSON.stringify({ storage_locations: [store('primary'), store('secondary')], replication_factor: 2, shard_size: 256 * 1024 }));
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? dir,
    PLEXICHAT_DATA_DIR: path.join(dir, 'data'),
    PLEXICHAT_CONFIG: cfg,
    PLEXICHAT_KEY_FILE: path.join(dir, 'keys', 'master.key'),
    PLEXICHAT_ENCRYPTION_KEY: PLEXICHAT_KEY,
    ...(db ? { DATABASE_URL: db.url } : {}),
  };
  // The engine and the console's services are imported here, not at the top: `npm run bench` without this part never loads them.
  const { loadConfig } = await import('../server/config');
  const { BackupEngine } = await import('../server/engine/engine');
  const engine = await BackupEngine.open(loadConfig(env), { log: () => undefined });
  (globalThis as { __plexichatEngine?: Promise<unknown> }).__plexichatEngine = Promise.resolve(engine);
  try {
    let detail = reuse ? (await engine.listBackups({ tags: ['detail'], limit: 1 }))[0] : undefined;
    let detailSeconds = 0;
    let fillSeconds = 0;
    if (detail) log(`scale (${kind}): reusing ${dir} (${await engine.countBackups()} backups), detail backup ${detail.backup_id}`);
    else {
      const src = path.join(dir, 'src');
      await writeTree(src, s.files);
      let t0 = performance.now();
      detail = await engine.createBackup({ paths: [src], tags: ['detail'] });
      detailSeconds = (performance.now() - t0) / 1000;
      log(`scale (${kind}): detail backup ${detail.backup_id}: ${detail.file_count} files, ${detail.shard_count} shards in ${detailSeconds.toFixed(1)} s`);
      const keyId = (await engine.catalog.pool.query<{ key_id: string }>('SELECT key_id FROM backups WHERE id = $1', [detail.backup_id])).rows[0]!.key_id;
      t0 = performance.now();
      await fillCatalog(engine.catalog.pool, { backups: s.backups - 1, shards: s.shards - detail.shard_count, refsPerBackup: 100, locations: ['primary', 'secondary'], keyId }, log);
      if (kind === 'postgres') await engine.catalog.pool.query('ANALYZE');
      fillSeconds = (performance.now() - t0) / 1000;
      log(`scale (${kind}): catalog filled in ${fillSeconds.toFixed(1)} s`);
    }

    const calls = await pageCalls(detail.backup_id);
    const times = new Map<Call, number[]>(calls.map((c) => [c, []]));
    const shapes = new Map<Call, string>();
    for (let run = 0; run <= s.runs; run++) {
      for (const c of calls) {
        const started = performance.now();
        const out = await c.run();
        const ms = performance.now() - started;
        if (run > 0) times.get(c)!.push(ms);
        else shapes.set(c, shapeOf(out));
      }
    }
    const procedures = calls.map((c) => ({ page: c.page, name: c.name, ms: spreadOf(times.get(c)!), shape: shapes.get(c) ?? '' }));
    const pages = [...new Set(calls.map((c) => c.page))].map((page) => {
      const mine = calls.filter((c) => c.page === page);
      return { page, ms: spreadOf(Array.from({ length: s.runs }, (_, i) => mine.reduce((sum, c) => sum + times.get(c)![i]!, 0))) };
    });
    for (const p of procedures) log(`scale (${kind}): ${p.page} ${p.name}: ${fmtSpread(p.ms)} ms (${p.shape})`);

    const cli = cliList(env, s.runs);
    log(`scale (${kind}): plexichat-backup list: ${fmtSpread(cli.ms)} ms`);
    return { catalog: kind, fill_seconds: fillSeconds, detail_backup: { backup_id: detail.backup_id, files: detail.file_count, shards: detail.shard_count, seconds: detailSeconds }, procedures, pages, cli_list_ms: cli.ms, cli_list_printed: cli.printed };
  } finally {
    (globalThis as { __plexichatEngine?: Promise<unknown> }).__plexichatEngine = undefined;
    await engine.close().catch(() => undefined);
    if (s.keep) log(`scale (${kind}): kept for inspection: ${dir}${db ? ` and ${db.url}` : ''}`);
    else await db?.drop().catch(() => undefined);
    if (kind === 'embedded') await stopByLock(path.join(env.PLEXICHAT_DATA_DIR!, 'catalog.lock'));
  }
}

/** The procedures each page calls when it opens, with its components' inputs, through an admin's caller. */
async function pageCalls(detailId: string): Promise<Call[]> {
  const { createCallerFactory } = await import('../server/trpc/init');
  const { appRouter } = await import('../server/trpc/root');
  const { liveServices } = await import('../server/trpc/services/live');
  const caller = createCallerFactory(appRouter)({ user: { id: 'bench-admin', email: 'admin@example.com', name: 'Bench', role: 'admin' }, services: liveServices });
  const call = (page: string, name: string, run: () => Promise<unknown>): Call => ({ page, name, run });
  const backupId = detailId;
  return [
    call('backups list', 'backup.list', () => caller.backup.list({ limit: 25, offset: 0 })),
    call('backup detail', 'backup.get', () => caller.backup.get({ backupId })),
    call('backup detail', 'backup.files', () => caller.backup.files({ backupId, limit: 50, offset: 0 })),
    call('backup detail', 'backup.shardMap', () => caller.backup.shardMap({ backupId, limit: 100, offset: 0 })),
    call('backup detail', 'restores.list', () => caller.restores.list({ backupId, limit: 10, offset: 0 })),
    call('backup detail', 'drills.list', () => caller.drills.list({ backupId, limit: 10 })),
    call('dashboard', 'stats.get', () => caller.stats.get()),
    call('dashboard', 'backup.list (change rate)', () => caller.backup.list({ status: 'completed', limit: 200, offset: 0 })),
    call('dashboard', 'drills.list', () => caller.drills.list({ limit: 200 })),
    call('dashboard', 'alerts.list', () => caller.alerts.list({ states: ['open', 'acknowledged'], limit: 8 })),
    call('dashboard', 'alerts.history', () => caller.alerts.history({ hours: 24 * 7 })),
    call('dashboard', 'reports.metrics ×2', () => Promise.all([caller.reports.metrics({ name: 'storage_used_bytes', hours: 24 }), caller.reports.metrics({ name: 'storage_usage_percent', hours: 24 })])),
    call('storage', 'storage.usage', () => caller.storage.usage()),
    call('storage', 'storage.health', () => caller.storage.health()),
    call('storage', 'storage.listLocations', () => caller.storage.listLocations()),
  ];
}

function shapeOf(out: unknown): string {
  if (Array.isArray(out)) return `${out.length} rows`;
  if (out && typeof out === 'object') {
    const o = out as Record<string, unknown>;
    const parts = Object.entries(o)
      .filter(([, v]) => Array.isArray(v) || typeof v === 'number')
      .slice(0, 4)
      .map(([k, v]) => `${k} ${Array.isArray(v) ? `[${v.length}]` : String(v)}`);
    return parts.join(', ');
  }
  return typeof out;
}

/** `plexichat-backup list` (text) as a separate process, `runs` times after one warm-up; wall time start to exit. */
function cliList(env: Record<string, string>, runs: number): { ms: Spread | null; printed: string } {
  const times: number[] = [];
  let printed = '';
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [CLI, 'list'], { env: env as NodeJS.ProcessEnv, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    const ms = performance.now() - t0;
    if (r.status !== 0) throw new Error(`plexichat-backup list exited ${r.status}: ${r.stderr.slice(-2000)}`);
    if (i > 0) times.push(ms);
    const lines = r.stdout.trimEnd().split('\n');
    printed = `${lines.length} lines; last: ${lines.at(-1)}`;
  }
  return { ms: spreadOf(times), printed };
}

/** `files` small files (1–9 KiB of random bytes) in directories of 100. */
async function writeTree(root: string, files: number): Promise<void> {
  for (let d = 0; d * 100 < files; d++) {
    const dir = path.join(root, `dir-${String(d).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    await Promise.all(Array.from({ length: Math.min(100, files - d * 100) }, (_, i) => writeFile(path.join(dir, `file-${i}.bin`), randomBytes(1024 + ((d * 100 + i) % 9) * 1024))));
  }
}

async function createDatabase(admin: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `px_bench_scale_${randomBytes(4).toString('hex')}`;
  const run = async (q: string) => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(q);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}

export function renderScale(r: ScaleReport): string {
  const out = ['', `The console and list at ${fmtNumber(r.settings.backups)} backups / ${fmtNumber(r.settings.shards)} shards: server time in ms, median (min–max) of ${r.settings.runs} runs after a warm-up`];
  for (const c of r.catalogs) {
    out.push('', `${c.catalog === 'embedded' ? 'embedded PGlite catalog' : 'PostgreSQL'} (filled in ${c.fill_seconds.toFixed(0)} s; detail backup: ${c.detail_backup.files} files, ${c.detail_backup.shards} shards)`);
    for (const p of c.pages) {
      out.push(`  ${p.ms && p.ms.max < TARGET_MS ? 'PASS' : 'FAIL'}  ${p.page.padEnd(14)} ${fmtSpread(p.ms).padStart(22)}`);
      for (const x of c.procedures.filter((q) => q.page === p.page)) out.push(`          ${x.name.padEnd(26)} ${fmtSpread(x.ms).padStart(20)}   ${x.shape}`);
    }
    out.push(`  ${c.cli_list_ms && c.cli_list_ms.median < TARGET_MS ? 'PASS' : 'FAIL'}  plexichat-backup list, wall time of the process: ${fmtSpread(c.cli_list_ms)} ms (${c.cli_list_printed})`);
  }
  out.push('');
  return out.join('\n');
}
