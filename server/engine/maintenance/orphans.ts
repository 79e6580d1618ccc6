/**
 * storage gc: removes what storage holds that no backup needs —
 *
 *   - objects a storage location holds but the catalog does not know: shards written by a backup that died
 *     before recording them, copies whose delete failed, snapshots and keys of deleted backups, temp files of
 *     crashed local writes;
 *   - shard rows no backup references, and their objects: the shards of failed and reaped backups (which
 *     drop their references), and of deleted backups whose own collection was cut short (gc-shards.ts).
 *
 * Backups may run meanwhile, so nothing is deleted on sight:
 *
 *   1. a sweep lists every enabled location and MARKS the unreferenced objects (settings key `gc:orphans`),
 *      and the unreferenced shard rows (their `gc_marked_at`), together with the backups running at that
 *      moment;
 *   2. a later sweep deletes what the mark covers only when the mark is older than the grace period and
 *      every backup running at mark time has ended: shard rows still marked and unreferenced, locked and
 *      re-checked in one transaction, then their objects; marked objects that a fresh catalog query right
 *      before the delete still finds unreferenced, and that still exist. What it finds unreferenced for the
 *      first time is marked for the sweep after.
 *
 * Why this is safe is written down in docs/repository-format.md ("Garbage collection").
 */
import { type SQL, sql } from 'drizzle-orm';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { shardRecordsByIds } from '../catalog/catalog';
import { IntegrityError, storedChecksum } from '../repository/codec';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import { reapInterrupted } from './reap-interrupted';
import type { Location } from '../storage/locations';
import { CONFIG_KEY, parsePieceKey, shardKey } from '../repository/repository';
import { fetchShard, markReplica } from '../repository/shard-store';
import type { ObjectInfo } from '../storage/backend';
import { TMP_DIR } from '../storage/local';
import { collectReleased, removeObject } from '../storage/object-locks';
import { forEachLimit } from '../for-each-limit';
import { collectMarkedShards, countWaiting, emptyShardReport, markUnreferencedShards } from './gc-shards';
import { ADOPTED_KEY } from '../setup';
import { assessMark, loadMark, MARK_KEY, type MarkState, saveMark } from './orphan-mark';
import { add, type KeepReason, type LocationGcReport, type ObjectKind, type OrphanSweepReport, type SweepOptions, totalsOf } from './orphan-report';

export const DEFAULT_GRACE_HOURS = 24;
/** Objects per catalog query while listing: a location may hold millions of objects. */
const LIST_BATCH = 500;
/** Candidates re-checked together, right before their deletes. */
const DELETE_BATCH = 50;
const DELETE_CONCURRENCY = 8;
/** The mark is one catalog value; beyond this many candidates the rest waits for a later sweep. */
const MAX_MARKED = 100_000;
/** Objects listed one by one in a location's report (the tallies count all of them). */
const MAX_REPORTED_OBJECTS = 200;

type Parsed = { kind: 'shard' | 'snapshot' | 'key'; id: string } | { kind: 'temp'; id: null };

export async function sweepOrphans(ctx: EngineContext, opts: SweepOptions = {}): Promise<OrphanSweepReport> {
  const dryRun = opts.dryRun ?? false;
  const graceHours = checkGraceHours(opts.graceHours ?? DEFAULT_GRACE_HOURS);
  // A backup whose process died must stop counting as running, or its mark would wait forever.
  if (!dryRun) await reapInterrupted(ctx);
  const repoId = await catalogRepoId(ctx);
  await refuseEmptyCatalog(ctx);
  const stored = await loadMark(ctx);
  const mark = stored?.mark ?? null;
  if (stored && !mark) ctx.log(`storage gc: the stored mark (${MARK_KEY}) is malformed; it is ignored and replaced`);
  const { state, summary } = await assessMark(ctx, mark, graceHours);

  const problems: string[] = [];
  // Objects kept earlier because they were locked: those whose lock is over go first.
  const released = await collectReleased(ctx, { dryRun, appendOnly: opts.appendOnlyDelete });
  problems.push(...released.problems);
  // Shard rows first: objects whose delete fails here are orphans the listing below finds and marks.
  const shards = emptyShardReport();
  const collecting = mark && state.ripe ? new Date(mark.marked_at) : null;
  if (collecting) await collectMarkedShards(ctx, collecting, { dryRun, report: shards, problems, hooks: opts.hooks });
  else if (mark) await countWaiting(ctx, new Date(mark.marked_at), state.waitReason === 'backups_running' ? 'backups_running' : 'grace_period', shards);

  const candidates: Record<string, string[]> = {};
  const budget = { left: MAX_MARKED };
  const locations: LocationGcReport[] = [];
  for (const loc of ctx.locations.enabled()) {
    const sweep = new LocationSweep(ctx, loc, { repoId, state, dryRun, budget, problems, marked: new Set(mark?.candidates[loc.name] ?? []) });
    await sweep.run();
    locations.push(sweep.report);
    if (sweep.candidates.length) candidates[loc.name] = sweep.candidates;
  }
  let newMark: OrphanSweepReport['new_mark'] = null;
  if (state.canMark) {
    const markedAt = ctx.now();
    shards.marked = await markUnreferencedShards(ctx, markedAt, { dryRun, collecting });
    newMark = await saveMark(ctx, stored, candidates, shards.marked.shards, markedAt, dryRun);
  }
  return { dry_run: dryRun, grace_hours: graceHours, previous_mark: summary, new_mark: newMark, locations, shards, totals: totalsOf(locations, shards), released, problems };
}

function checkGraceHours(h: number): number {
  if (!Number.isFinite(h) || h < 0) throw new EngineError('INVALID', `The grace period must be a number of hours, 0 or more (default ${DEFAULT_GRACE_HOURS}); got ${h}.`);
  return h;
}

async function catalogRepoId(ctx: EngineContext): Promise<string> {
  const rows = await ctx.db.execute<{ repo_id: string | null }>(sql`SELECT value->>'repo_id' AS repo_id FROM settings WHERE key = 'repository'`);
  const id = rows.rows[0]?.repo_id;
  if (!id) throw new EngineError('CONFLICT', 'The catalog has no repository identity (settings key "repository"); open the installation once with any command, then run storage gc again.');
  return id;
}

/**
 * A catalog that knows nothing while storage holds data was lost or replaced: every object would look like
 * an orphan. Refuse instead of marking the whole repository for deletion.
 */
async function refuseEmptyCatalog(ctx: EngineContext): Promise<void> {
  const adopted = await ctx.db.execute<{ at: string }>(sql`SELECT value->>'at' AS at FROM settings WHERE key = ${ADOPTED_KEY}`);
  if (adopted.rows.length) {
    throw new EngineError(
      'CONFLICT',
      `This catalog was created on ${adopted.rows[0]!.at} over storage that already held this repository (the previous catalog was lost or replaced), and recover-catalog has not run since: storage gc would delete every backup it does not know. Run plexichat-backup recover-catalog first (with every location reachable); it keeps what this catalog has and adds what storage holds.`,
    );
  }
  // Objects kept because they are locked (object-locks.ts) are known too: every backup may be gone meanwhile.
  const rows = await ctx.db.execute<{ known: boolean }>(sql`SELECT (EXISTS (SELECT 1 FROM backups) OR EXISTS (SELECT 1 FROM shards) OR EXISTS (SELECT 1 FROM object_locks)) AS known`);
  if (rows.rows[0]?.known) return;
  for (const loc of ctx.locations.enabled()) {
    for (const prefix of ['snapshots/', 'data/']) {
      try {
        for await (const o of loc.backend.list(prefix)) {
          throw new EngineError(
            'CONFLICT',
            `The catalog knows no backups and no shards, but storage location ${loc.name} holds repository data (${o.key}). If the catalog database was lost or replaced, run plexichat-backup recover-catalog first: storage gc deletes whatever the catalog does not know.`,
          );
        }
      } catch (err) {
        if (err instanceof EngineError) throw err;
        // An unreachable location is reported (and skipped) by the sweep itself.
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// One location

interface SweepPlan {
  repoId: string;
  state: MarkState;
  dryRun: boolean;
  /** Candidates of the previous mark at this location. */
  marked: Set<string>;
  budget: { left: number };
  problems: string[];
}

interface Item {
  info: ObjectInfo;
  parsed: Parsed;
}

class LocationSweep {
  readonly report: LocationGcReport;
  readonly candidates: string[] = [];
  private readonly seenMarked = new Set<string>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly loc: Location,
    private readonly plan: SweepPlan,
  ) {
    const t = () => ({ objects: 0, bytes: 0 });
    this.report = { location: loc.name, skipped_reason: null, scanned: t(), marked: t(), deleted: t(), kept: { ...t(), reasons: {} }, gone: 0, objects: [], objects_truncated: false };
  }

  async run(): Promise<void> {
    const foreign = await repositoryMismatch(this.loc, this.plan.repoId);
    if (foreign) return this.skip(foreign);
    try {
      let batch: ObjectInfo[] = [];
      for await (const info of listObjects(this.loc)) {
        batch.push(info);
        if (batch.length >= LIST_BATCH) {
          await this.sweepBatch(batch);
          batch = [];
        }
      }
      await this.sweepBatch(batch);
    } catch (err) {
      // What was marked or deleted so far stands; each object was decided on its own.
      return this.skip(`the sweep stopped part-way: ${(err as Error).message}. Check the location (plexichat-backup storage health) and run storage gc again`);
    }
    this.report.gone += [...this.plan.marked].filter((k) => !this.seenMarked.has(k)).length;
  }

  private skip(reason: string): void {
    this.report.skipped_reason = reason;
    this.plan.problems.push(`${this.loc.name}: not swept: ${reason}`);
  }

  private async sweepBatch(batch: ObjectInfo[]): Promise<void> {
    const items: Item[] = [];
    for (const info of batch) {
      const parsed = classify(info.key, this.loc.config.type === 'local');
      if (parsed === 'config') continue; // the repository's identity: never a candidate
      add(this.report.scanned, info.size);
      if (parsed) items.push({ info, parsed });
      else this.keep(info, 'unknown', 'unrecognised_name');
    }
    const unreferenced = await unreferencedObjects(this.ctx, this.loc.name, items);
    const held = await releasedLocks(this.ctx, this.loc.name, items.map((i) => i.info.key));
    const ripe: Item[] = [];
    for (const item of items) {
      const key = item.info.key;
      const wasMarked = this.plan.marked.has(key);
      if (wasMarked) this.seenMarked.add(key);
      const kind = unreferenced.get(key);
      if (kind && held.has(key)) {
        // Released while locked: collectReleased deletes it after its lock, not the mark.
        this.keep(item.info, kind, 'locked', held.get(key));
      } else if (!kind) {
        if (wasMarked) this.keep(item.info, item.parsed.kind, 'referenced_again');
      } else if (wasMarked && this.plan.state.ripe) ripe.push(item);
      else if (wasMarked) this.keep(item.info, kind, this.plan.state.waitReason!);
      else if (!this.plan.state.canMark) this.keep(item.info, kind, 'mark_pending');
      else this.markCandidate(item.info, kind);
    }
    for (let i = 0; i < ripe.length; i += DELETE_BATCH) await this.deleteRipe(ripe.slice(i, i + DELETE_BATCH));
  }

  private markCandidate(info: ObjectInfo, kind: ObjectKind): void {
    if (this.plan.budget.left <= 0) return this.keep(info, kind, 'mark_full');
    this.plan.budget.left--;
    this.candidates.push(info.key);
    add(this.report.marked, info.size);
    this.note(info.key, kind, 'marked');
  }

  /** Deletes candidates of a ripe mark: re-checked against the catalog right before, and only if present. */
  private async deleteRipe(items: Item[]): Promise<void> {
    const still = await unreferencedObjects(this.ctx, this.loc.name, items);
    const deletedShards: string[] = [];
    await forEachLimit(items, DELETE_CONCURRENCY, async ({ info, parsed }) => {
      const kind = still.get(info.key);
      if (!kind) return this.keep(info, parsed.kind, 'referenced_again');
      try {
        const current = await this.loc.backend.stat(info.key);
        if (!current) {
          this.report.gone++;
          return;
        }
        if (!this.plan.dryRun) {
          const removal = await removeObject(this.ctx, this.loc, info.key, `orphan ${kind}`);
          if (!removal.deleted) return this.keep(info, kind, 'locked', removal.kept.locked_until);
        }
        add(this.report.deleted, current.size);
        this.note(info.key, kind, 'deleted');
        if (parsed.kind === 'shard' && !this.plan.dryRun) deletedShards.push(parsed.id);
      } catch (err) {
        this.plan.problems.push(`${this.loc.name}: could not delete ${info.key}: ${(err as Error).message}; a later sweep retries it`);
        this.keep(info, kind, 'delete_failed');
        // Still unreferenced: it goes into the next mark (its clock restarts, which only adds safety).
        if (this.plan.budget.left > 0) {
          this.plan.budget.left--;
          this.candidates.push(info.key);
        }
      }
    });
    if (deletedShards.length) await this.checkRaces(deletedShards);
  }

  /**
   * Shard names are never reused by backups, but repair and optimize write a copy of an existing shard
   * under its name and record the replica after the write. If one of them wrote to this location between
   * the re-check and the delete, the catalog now records a copy that is gone: put it back from a good
   * replica, or mark it missing so verify and repair see it.
   */
  private async checkRaces(ids: string[]): Promise<void> {
    const list = sql.join(ids.map((id) => sql`${id}`), sql`, `);
    const rows = await this.ctx.db.execute<{ shard_id: string }>(sql`SELECT shard_id FROM shard_replicas WHERE location = ${this.loc.name} AND shard_id IN (${list})`);
    for (const { shard_id: id } of rows.rows) {
      if (await this.loc.backend.stat(shardKey(id)).catch(() => null)) continue;
      try {
        await copyBack(this.ctx, this.loc, id);
        this.ctx.log(`storage gc: shard ${id} was recorded at ${this.loc.name} while it was deleted there (a concurrent repair or optimize); copied it back from another replica`);
      } catch (err) {
        await markReplica(this.ctx, id, this.loc.name, 'missing');
        this.plan.problems.push(
          `${this.loc.name}: shard ${id} was recorded there while storage gc deleted it, and could not be copied back (${(err as Error).message}); its replica is marked missing — run plexichat-backup verify and repair on the backups that use it`,
        );
      }
    }
  }

  private keep(info: ObjectInfo, kind: ObjectKind, reason: KeepReason, lockedUntil?: string | null): void {
    add(this.report.kept, info.size);
    this.report.kept.reasons[reason] = (this.report.kept.reasons[reason] ?? 0) + 1;
    this.note(info.key, kind, 'kept', reason, lockedUntil);
  }

  private note(key: string, kind: ObjectKind, action: 'marked' | 'deleted' | 'kept', reason?: KeepReason, lockedUntil?: string | null): void {
    if (this.report.objects.length >= MAX_REPORTED_OBJECTS) {
      this.report.objects_truncated = true;
      return;
    }
    const entry: LocationGcReport['objects'][number] = reason ? { key, kind, action, reason } : { key, kind, action };
    if (lockedUntil !== undefined) entry.locked_until = lockedUntil;
    this.report.objects.push(entry);
  }
}

/** Only a location proven to hold this installation's repository is swept: a wrong path must not be wiped. */
async function repositoryMismatch(loc: Location, repoId: string): Promise<string | null> {
  let doc: { repo_id?: unknown };
  try {
    doc = JSON.parse((await loc.backend.get(CONFIG_KEY)).toString('utf8')) as { repo_id?: unknown };
  } catch (err) {
    return `its repository config (${CONFIG_KEY}) could not be read (${(err as Error).message}); open the installation once so it is written, or check the location`;
  }
  if (doc.repo_id !== repoId) {
    return `it holds repository ${String(doc.repo_id)}, not this installation's ${repoId}; check its path or bucket in the configuration`;
  }
  return null;
}

/** Every object of a location, streamed; for a local location also the temp files of interrupted writes. */
async function* listObjects(loc: Location): AsyncIterable<ObjectInfo> {
  yield* loc.backend.list('');
  if (loc.config.type === 'local' && loc.config.path) yield* listTempFiles(loc.config.path);
}

async function* listTempFiles(root: string): AsyncIterable<ObjectInfo> {
  const dir = path.join(root, TMP_DIR);
  let names: string[];
  try {
    names = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  for (const name of names) {
    const st = await stat(path.join(dir, name)).catch(() => null); // renamed into place meanwhile
    if (st) yield { key: `${TMP_DIR}/${name}`, size: st.size };
  }
}

const SHARD_NAME = /^data\/([0-9a-f]{2})\/([0-9a-f]{64}-[0-9a-f]{12})$/;
const SNAPSHOT_NAME = /^snapshots\/([A-Za-z0-9_-]+)$/;
const KEY_NAME = /^keys\/([A-Za-z0-9_-]+)\.json$/;
const TEMP_NAME = new RegExp(`^${TMP_DIR.replace(/\./g, '\\.')}/[^/]+$`);

/**
 * What an object is, by its name (see repository.ts); null for names this engine never writes. Temp names
 * count only where this engine makes temp files (local locations).
 */
function classify(key: string, hasTempFiles: boolean): Parsed | 'config' | null {
  // Catalog snapshots are kept and pruned by catalog-snapshot.ts (newest few per location), never by gc.
  if (key === CONFIG_KEY || key.startsWith('catalog/')) return 'config';
  const shard = SHARD_NAME.exec(key);
  if (shard) return shard[2]!.startsWith(shard[1]!) ? { kind: 'shard', id: shard[2]! } : null;
  // A piece of an erasure-coded shard: referenced here when the shard has a replica row at this location.
  const piece = parsePieceKey(key);
  if (piece) return { kind: 'shard', id: piece.shardId };
  const snap = SNAPSHOT_NAME.exec(key);
  if (snap) return { kind: 'snapshot', id: snap[1]! };
  const k = KEY_NAME.exec(key);
  if (k) return { kind: 'key', id: k[1]! };
  return hasTempFiles && TEMP_NAME.test(key) ? { kind: 'temp', id: null } : null;
}

/**
 * Which of these objects the catalog does not reference at this location, with their kind: a shard with no
 * row (`shard`) or with no replica row here (`shard_copy`), a snapshot of a backup not in `backups`, a key
 * not in `data_keys`, any temp file. One query per kind, for at most one listing batch.
 */
async function unreferencedObjects(ctx: EngineContext, location: string, items: Item[]): Promise<Map<string, ObjectKind>> {
  const out = new Map<string, ObjectKind>();
  const ids = (kind: Parsed['kind']) => items.filter((i) => i.parsed.kind === kind).map((i) => i.parsed.id!);
  const list = (values: string[]) => sql.join(values.map((v) => sql`${v}`), sql`, `);
  const shardIds = ids('shard');
  const shardHere = new Map<string, boolean>();
  if (shardIds.length) {
    const rows = await ctx.db.execute<{ id: string; here: boolean }>(sql`
      SELECT s.id, EXISTS (SELECT 1 FROM shard_replicas r WHERE r.shard_id = s.id AND r.location = ${location}) AS here
      FROM shards s WHERE s.id IN (${list(shardIds)})`);
    for (const r of rows.rows) shardHere.set(r.id, r.here);
  }
  const known = async (table: SQL, values: string[]) =>
    values.length ? new Set((await ctx.db.execute<{ id: string }>(sql`SELECT id FROM ${table} WHERE id IN (${list(values)})`)).rows.map((r) => r.id)) : new Set<string>();
  const backupsKnown = await known(sql`backups`, ids('snapshot'));
  const keysKnown = await known(sql`data_keys`, ids('key'));
  for (const { info, parsed } of items) {
    if (parsed.kind === 'temp') out.set(info.key, 'temp');
    else if (parsed.kind === 'shard' && shardHere.get(parsed.id) !== true) out.set(info.key, shardHere.has(parsed.id) ? 'shard_copy' : 'shard');
    else if (parsed.kind === 'snapshot' && !backupsKnown.has(parsed.id)) out.set(info.key, 'snapshot');
    else if (parsed.kind === 'key' && !keysKnown.has(parsed.id)) out.set(info.key, 'key');
  }
  return out;
}

/** Of these keys at `location`, those released while locked (object-locks.ts), with their lock's end. */
async function releasedLocks(ctx: EngineContext, location: string, keys: string[]): Promise<Map<string, string | null>> {
  if (!keys.length) return new Map();
  const list = sql.join(keys.map((k) => sql`${k}`), sql`, `);
  const rows = await ctx.db.execute<{ key: string; locked_until: string | null }>(
    sql`SELECT key, locked_until FROM object_locks WHERE location = ${location} AND released_at IS NOT NULL AND key IN (${list})`,
  );
  return new Map(rows.rows.map((r) => [r.key, r.locked_until ? new Date(r.locked_until).toISOString() : null]));
}

/** Copies a shard back to `loc` from another replica whose bytes match the catalog's checksum. */
async function copyBack(ctx: EngineContext, loc: Location, shardId: string): Promise<void> {
  const rec = (await shardRecordsByIds(ctx.db, [shardId])).get(shardId);
  if (!rec) throw new Error('the shard is no longer in the catalog');
  const others = rec.replicas.filter((r) => r.location !== loc.name);
  const bytes = await fetchShard(ctx, shardId, others, async (stored) => {
    if (storedChecksum(stored) !== rec.checksum) throw new IntegrityError('checksum mismatch');
    return stored;
  });
  await loc.backend.put(shardKey(shardId), bytes);
}
