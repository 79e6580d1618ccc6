/**
 * Restore drills: the spec's monthly "test recovery procedures", made continuous. A drill restores a backup
 * (or a seeded random sample of its files) with the ordinary restore code into a private scratch directory,
 * compares every restored file with the manifest, deletes the scratch copy (always, also on failure) and
 * records the outcome and the measured restore time in `restore_drills`.
 *
 * Comparison: files whose manifest line carries `sha` are hashed and compared (a file an incremental backup
 * reused carries its base's); the others (older manifests, and files reused from one) are checked by size
 * only — their bytes were still authenticated (AES-GCM, shard checksums) while the restore read them, which
 * the result says (`method: 'chunks'` or `'mixed'`).
 *
 * A MAXIMUM backup's data key opens only with k of the key holders' quorum shares (quorum.ts). A drill of one
 * without shares (a drill schedule, the console) cannot read it by design: it ends `skipped`, naming the CLI
 * command that runs it with shares, and raises no alert. Shares of the wrong quorum still fail the drill.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, lstat, mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { desc, eq, sql } from 'drizzle-orm';
import { restoreDrills } from '../../../db/schema';
import type { BackupRow } from '../catalog/catalog';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import { type ManifestEntry, parseEntry, resolveInside } from '../repository/manifest';
import { restoreBackup } from './restore';
import { isQuorumRequired } from '../keys/keys';
import { operationQuorum } from '../keys/quorum';
import { ShardReader } from './shard-reader';
import type { SecurityLevel } from '../types';

export interface DrillOptions {
  /** The backup to drill; default: the newest completed one (of `sources`, when given). */
  backupId?: string;
  /** Restore only this percentage of the files (chosen by a seeded hash of their paths); default 100. */
  samplePercent?: number;
  seed?: number;
  /** runDrills: only backups whose sources include all of these. */
  sources?: string[];
  actor?: string;
}

export interface DrillResult {
  drill_id: string;
  backup_id: string;
  sources: string[];
  /** skipped: a MAXIMUM backup drilled without the key holders' quorum shares (`error` says how to run it). */
  status: 'passed' | 'failed' | 'skipped';
  sample_percent: number;
  seed: number | null;
  started_at: string;
  finished_at: string;
  /** Seconds the restore of what was drilled took. */
  measured_seconds: number;
  /** Recovery time objective as measured: measured_seconds × (backup bytes ÷ bytes restored) when sampling. */
  rto_seconds: number;
  files_checked: number;
  bytes_checked: number;
  files_total: number;
  bytes_total: number;
  method: 'sha256' | 'chunks' | 'mixed' | null;
  note: string | null;
  error: string | null;
}

const MAX_MISMATCHES = 20;

/** A stable pseudo-random rank of a path under a seed: the sample is the lowest-ranked files. */
const rank = (seed: number, p: string) => createHash('sha256').update(`${seed}\0${p}`).digest().readUInt32BE(0);

export async function runDrill(ctx: EngineContext, row: BackupRow, opts: DrillOptions): Promise<DrillResult> {
  const percent = opts.samplePercent ?? 100;
  if (!(percent > 0 && percent <= 100)) throw new EngineError('INVALID', `The sample percentage must be more than 0 and at most 100; got ${percent}.`);
  const sampling = percent < 100;
  const seed = sampling ? (opts.seed ?? randomInt(0, 2 ** 31 - 1)) : null;
  const id = `drill_${randomBytes(8).toString('hex')}`;
  const startedAt = ctx.now();
  await ctx.db.insert(restoreDrills).values({ id, backupId: row.id, sources: row.sources, status: 'running', samplePercent: percent, seed, startedAt, actor: opts.actor ?? 'system' });

  const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel);
  const files = row.manifestShards.files;
  let scratch: string | null = null;
  let measured = 0;
  let selected: Set<string> | null = null;
  const counts = { files: 0, bytes: 0, hashed: 0, sizeOnly: 0, sampleBytes: 0 };
  const mismatches: string[] = [];
  let differing = 0;
  let error: string | null = null;
  let skipped = false;
  try {
    await reader.load(files);
    if (sampling) selected = await pickSample(reader, files, percent, seed!);
    // mkdtemp creates the directory 0700 already; chmod again in case a umask or ACL default widened it.
    scratch = await mkdtemp(path.join(tmpdir(), 'plexichat-drill-'));
    await chmod(scratch, 0o700);
    // The sample as a plain path list: a Set lookup per file, and a sampled `a/x` never pulls in `b/x`.
    const paths = selected ? [...selected] : undefined;
    if (selected && selected.size === 0) throw new EngineError('INVALID', `Backup ${row.id} has no files to sample.`);
    const t0 = process.hrtime.bigint();
    await restoreBackup(ctx, row, { target: scratch, paths });
    measured = Number(process.hrtime.bigint() - t0) / 1e9;

    for await (const line of reader.lines(files)) {
      const e = parseEntry(line);
      if (selected && !selected.has(e.p)) continue;
      const problem = await compare(scratch, e, counts);
      if (!problem) continue;
      differing++;
      if (mismatches.length < MAX_MISMATCHES) mismatches.push(`${e.p}: ${problem}`);
    }
    if (differing) error = `The restored copy differs from the manifest for ${differing} entr${differing === 1 ? 'y' : 'ies'}: ${mismatches.join('; ')}${differing > mismatches.length ? '; …' : ''}. Run \`plexichat-backup verify ${row.id} --read-data\`.`;
  } catch (err) {
    skipped = isQuorumRequired(err) && operationQuorum() === undefined;
    error = skipped
      ? `Drill of backup ${row.id} skipped: it needs the key holders' quorum (MAXIMUM): run \`plexichat-backup drill run --backup ${row.id} --share …\` with k of the quorum's shares.`
      : `Drill of backup ${row.id} failed: ${(err as Error).message}`;
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true }).catch((e: unknown) => ctx.log(`drill ${id}: could not remove scratch directory ${scratch}: ${(e as Error).message}`));
  }

  const finishedAt = ctx.now();
  // Restore time grows with the bytes moved, so a sample's time is scaled by the backup's bytes over the
  // sample's (by files when the sample holds no bytes). Fixed costs (reading the manifest) are scaled too:
  // the estimate errs on the slow side.
  const scale = !sampling ? 1 : counts.sampleBytes > 0 ? row.originalSize / counts.sampleBytes : row.fileCount / Math.max(counts.files, 1);
  const rto = measured * Math.max(scale, 1);
  const method = counts.files === 0 ? null : counts.sizeOnly === 0 ? 'sha256' : counts.hashed === 0 ? 'chunks' : 'mixed';
  const note = method === 'chunks' || method === 'mixed'
    ? `${counts.sizeOnly} file(s) have no content hash in the manifest (an older manifest, or files an incremental backup reused from one): they were checked by size and by the authenticated chunk reads of the restore only.`
    : null;
  const status = skipped ? 'skipped' : error ? 'failed' : 'passed';
  const rec = {
    status,
    finishedAt,
    // Nothing was restored: no time to show (nor to draw in the RTO trend).
    measuredSeconds: skipped ? null : measured,
    rtoSeconds: skipped ? null : rto,
    filesChecked: counts.files,
    bytesChecked: counts.bytes,
    method,
    error,
    details: { files_total: row.fileCount, bytes_total: row.originalSize, note, mismatches },
  };
  await ctx.db.update(restoreDrills).set(rec).where(eq(restoreDrills.id, id));
  return {
    drill_id: id,
    backup_id: row.id,
    sources: row.sources,
    status,
    sample_percent: percent,
    seed,
    started_at: startedAt.toISOString(),
    finished_at: finishedAt.toISOString(),
    measured_seconds: measured,
    rto_seconds: rto,
    files_checked: counts.files,
    bytes_checked: counts.bytes,
    files_total: row.fileCount,
    bytes_total: row.originalSize,
    method,
    note,
    error,
  };
}

/** The ceil(percent × files) files with the lowest seeded rank (at least one). */
async function pickSample(reader: ShardReader, files: string[], percent: number, seed: number): Promise<Set<string>> {
  const all: [number, string][] = [];
  for await (const line of reader.lines(files)) {
    const e = parseEntry(line);
    if (e.t === 'f') all.push([rank(seed, e.p), e.p]);
  }
  all.sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : 1));
  const n = Math.min(all.length, Math.max(1, Math.ceil((all.length * percent) / 100)));
  return new Set(all.slice(0, n).map(([, p]) => p));
}

/** Compares one restored entry with its manifest line; a problem in words, or null. */
async function compare(root: string, e: ManifestEntry, counts: { files: number; bytes: number; hashed: number; sizeOnly: number; sampleBytes: number }): Promise<string | null> {
  const dest = resolveInside(root, e.p);
  const st = await lstat(dest).catch(() => null);
  if (!st) return 'not restored';
  if (e.t === 'd') return st.isDirectory() ? null : 'not a directory';
  if (e.t === 'l') return st.isSymbolicLink() && (await readlink(dest)) === e.l ? null : 'symlink differs';
  counts.files++;
  counts.sampleBytes += e.s ?? 0;
  if (!st.isFile()) return 'not a regular file';
  if (st.size !== (e.s ?? 0)) return `size ${st.size}, manifest says ${e.s ?? 0}`;
  counts.bytes += st.size;
  if (!e.sha) {
    counts.sizeOnly++;
    return null;
  }
  counts.hashed++;
  const h = createHash('sha256');
  for await (const block of createReadStream(dest)) h.update(block as Buffer);
  return h.digest('hex') === e.sha ? null : 'content hash differs';
}

/** runDrills without a backup: the newest completed backup of each source set (of those including `sources`). */
export async function drillTargets(ctx: EngineContext, sources?: string[]): Promise<string[]> {
  const filter = sources?.length ? sql`AND sources @> ${JSON.stringify(sources)}::jsonb` : sql``;
  const r = await ctx.db.execute<{ id: string }>(sql`
    SELECT DISTINCT ON (sources) id FROM backups WHERE status = 'completed' ${filter}
    ORDER BY sources, completed_at DESC NULLS LAST, created_at DESC`);
  return r.rows.map((x) => x.id);
}

export interface DrillView {
  drill_id: string;
  backup_id: string;
  sources: string[];
  status: string;
  sample_percent: number;
  started_at: string;
  finished_at: string | null;
  measured_seconds: number | null;
  rto_seconds: number | null;
  files_checked: number;
  bytes_checked: number;
  method: string | null;
  error: string | null;
  actor: string;
}

export async function listDrills(ctx: EngineContext, opts: { limit?: number; since?: Date; backupId?: string } = {}): Promise<DrillView[]> {
  const conds = [];
  if (opts.since) conds.push(sql`${restoreDrills.startedAt} >= ${opts.since}`);
  if (opts.backupId) conds.push(eq(restoreDrills.backupId, opts.backupId));
  const rows = await ctx.db
    .select()
    .from(restoreDrills)
    .where(conds.length ? sql.join(conds, sql` AND `) : undefined)
    .orderBy(desc(restoreDrills.startedAt))
    .limit(Math.min(Math.max(opts.limit ?? 100, 1), 1000));
  return rows.map((r) => ({
    drill_id: r.id,
    backup_id: r.backupId,
    sources: r.sources,
    status: r.status,
    sample_percent: r.samplePercent,
    started_at: r.startedAt.toISOString(),
    finished_at: r.finishedAt ? r.finishedAt.toISOString() : null,
    measured_seconds: r.measuredSeconds,
    rto_seconds: r.rtoSeconds,
    files_checked: r.filesChecked,
    bytes_checked: r.bytesChecked,
    method: r.method,
    error: r.error,
    actor: r.actor,
  }));
}
