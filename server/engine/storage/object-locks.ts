/**
 * Immutable copies tied to retention (issue 12). On a location with `immutability`, every shard, backup
 * snapshot and catalog snapshot is written under the store's write-once lock until the backup's expiry +
 * margin_days (at least min_days); the lock is recorded in `object_locks`. Deleting goes through
 * removeObject, which never asks the store to delete an object whose recorded lock has not expired: the
 * object is kept, the row marked released, and the report says "kept: locked until …". storage gc and prune
 * collect released objects once their lock is over (collectReleased).
 *
 * Keys and config.json are not locked: key rotation rewrites them in place, which a locked object refuses.
 */
import { sql } from 'drizzle-orm';
import { immutabilityOf, retainUntil } from '../../config-immutability';
import { CATALOG_PREFIX } from '../catalog/catalog-snapshot-format';
import type { EngineContext } from '../context';
import type { Location } from './locations';
import { replicaKey } from '../repository/repository';
import { isStorageError, type ObjectLock } from './backend';

/** Objects that get a lock: shards, backup snapshots, catalog snapshots. */
const LOCKED_PREFIXES = ['data/', 'snapshots/', CATALOG_PREFIX];

export const isLockable = (key: string) => LOCKED_PREFIXES.some((p) => key.startsWith(p));

/** A kept object, as reports list it. */
export interface KeptLocked {
  location: string;
  key: string;
  /** null: an append-only location (collected by an admin's storage gc). */
  locked_until: string | null;
}

const DAY_MS = 86_400_000;
const expiries = new WeakMap<EngineContext, Map<string, Date | null>>();

/** When a backup (running or done) expires: its expires_at, or now + its retention for one still running. */
async function backupExpiry(ctx: EngineContext, backupId: string): Promise<Date | null> {
  let cache = expiries.get(ctx);
  if (!cache) expiries.set(ctx, (cache = new Map()));
  if (cache.has(backupId)) return cache.get(backupId)!;
  const rows = await ctx.db.execute<{ expires_at: string | null; retention_days: number | null }>(
    sql`SELECT expires_at, retention_days FROM backups WHERE id = ${backupId}`,
  );
  const r = rows.rows[0];
  const at = r?.expires_at ? new Date(r.expires_at) : r?.retention_days ? new Date(ctx.now().getTime() + Number(r.retention_days) * DAY_MS) : null;
  if (cache.size > 1000) cache.clear();
  cache.set(backupId, at);
  return at;
}

/** The lock an object written now for `backupId` (null: not a backup's object) gets at `loc`; undefined: none. */
export async function lockFor(ctx: EngineContext, loc: Location, key: string, backupId: string | null): Promise<ObjectLock | undefined> {
  const imm = immutabilityOf(loc.config);
  if (!imm || !isLockable(key)) return undefined;
  const expiry = backupId ? await backupExpiry(ctx, backupId) : null;
  return { mode: imm.mode, until: retainUntil(imm, ctx.now(), expiry) };
}

/** Writes an object, locked where the location is immutable, and records the lock. */
export async function putObject(ctx: EngineContext, loc: Location, key: string, data: Buffer, backupId: string | null): Promise<void> {
  const lock = await lockFor(ctx, loc, key, backupId);
  await loc.backend.put(key, data, lock ? { lock } : undefined);
  if (lock) await recordLock(ctx, loc.name, key, lock);
}

async function recordLock(ctx: EngineContext, location: string, key: string, lock: ObjectLock): Promise<void> {
  await ctx.db.execute(sql`
    INSERT INTO object_locks (location, key, mode, locked_until) VALUES (${location}, ${key}, ${lock.mode}, ${lock.until.toISOString()}::timestamptz)
    ON CONFLICT (location, key) DO UPDATE SET locked_until = GREATEST(object_locks.locked_until, EXCLUDED.locked_until), mode = EXCLUDED.mode`);
}

/**
 * A deduplicated shard must stay locked as long as the newest backup that references it: lengthens the lock
 * of every shard `backupId` references, at each immutable location holding it, whose recorded lock ends
 * before this backup's retain-until. Returns how many locks were extended; failures go to `problem` (the
 * backup stays valid: only the store's protection of that copy is shorter).
 */
export async function extendBackupLocks(ctx: EngineContext, backupId: string, problem: (msg: string) => void): Promise<number> {
  let extended = 0;
  for (const loc of ctx.locations.enabled()) {
    const lock = await lockFor(ctx, loc, 'data/', backupId);
    if (!lock || !loc.backend.extendLock) continue;
    // Every replica row of this backup's shards at `loc`: a whole copy, or one erasure-coded piece.
    const rows = await ctx.db.execute<{ shard_id: string; piece: number | null; ec_data: number | null; ec_parity: number | null }>(sql`
      SELECT DISTINCT bs.shard_id, r.piece, s.ec_data, s.ec_parity FROM backup_shards bs
      JOIN shards s ON s.id = bs.shard_id
      JOIN shard_replicas r ON r.shard_id = bs.shard_id AND r.location = ${loc.name}
      WHERE bs.backup_id = ${backupId}`);
    const keys = rows.rows.map((r) => replicaKey(r.shard_id, r.piece, r.ec_data !== null && r.ec_parity !== null ? { k: Number(r.ec_data), m: Number(r.ec_parity) } : null));
    const enough = await lockedAtLeast(ctx, loc.name, keys, lock.until);
    for (const key of keys) {
      if (enough.has(key)) continue;
      try {
        await loc.backend.extendLock(key, lock);
        await recordLock(ctx, loc.name, key, lock);
        extended++;
      } catch (err) {
        problem(`${loc.name}: could not extend the lock of ${key} to ${lock.until.toISOString()}: ${(err as Error).message}`);
      }
    }
  }
  return extended;
}

/** Of these keys at `location`, those whose recorded lock lasts at least until `until`. */
async function lockedAtLeast(ctx: EngineContext, location: string, keys: string[], until: Date): Promise<Set<string>> {
  const out = new Set<string>();
  for (let i = 0; i < keys.length; i += 500) {
    const list = sql.join(keys.slice(i, i + 500).map((k) => sql`${k}`), sql`, `);
    const rows = await ctx.db.execute<{ key: string }>(sql`
      SELECT key FROM object_locks WHERE location = ${location} AND key IN (${list}) AND locked_until >= ${until.toISOString()}::timestamptz`);
    for (const r of rows.rows) out.add(r.key);
  }
  return out;
}

export type Removal = { deleted: true } | { deleted: false; kept: KeptLocked };

/**
 * Deletes an object unless it is locked: then (recorded lock in the future, or the store refusing with
 * 'locked') it is kept and its row marked released, so collectReleased deletes it after the lock. Other
 * failures throw as before.
 */
export async function removeObject(ctx: EngineContext, loc: Location, key: string, releasedBy: string): Promise<Removal> {
  const rows = await ctx.db.execute<{ locked_until: string | null; mode: string }>(sql`SELECT locked_until, mode FROM object_locks WHERE location = ${loc.name} AND key = ${key}`);
  const row = rows.rows[0];
  const recorded = row?.locked_until ? new Date(row.locked_until) : null;
  if (recorded && recorded > ctx.now()) return { deleted: false, kept: await release(ctx, loc.name, key, recorded, row!.mode, releasedBy) };
  try {
    await loc.backend.delete(key);
  } catch (err) {
    if (!isStorageError(err, 'locked')) throw err;
    const mode = row?.mode ?? immutabilityOf(loc.config)?.mode ?? 'append_only';
    return { deleted: false, kept: await release(ctx, loc.name, key, err.lockedUntil, mode, releasedBy) };
  }
  if (row) await ctx.db.execute(sql`DELETE FROM object_locks WHERE location = ${loc.name} AND key = ${key}`);
  return { deleted: true };
}

async function release(ctx: EngineContext, location: string, key: string, until: Date | null, mode: string, by: string): Promise<KeptLocked> {
  const at = until ? sql`${until.toISOString()}::timestamptz` : sql`NULL`;
  await ctx.db.execute(sql`
    INSERT INTO object_locks (location, key, mode, locked_until, released_at, released_by) VALUES (${location}, ${key}, ${mode}, ${at}, ${ctx.now().toISOString()}::timestamptz, ${by})
    ON CONFLICT (location, key) DO UPDATE SET locked_until = EXCLUDED.locked_until, released_at = COALESCE(object_locks.released_at, EXCLUDED.released_at), released_by = COALESCE(object_locks.released_by, EXCLUDED.released_by)`);
  return { location, key, locked_until: until ? until.toISOString() : null };
}

export interface ReleasedReport {
  /** Released objects deleted now that their lock is over. */
  deleted: number;
  /** Released objects still locked (the first few listed). */
  kept: number;
  kept_objects: KeptLocked[];
  problems: string[];
}

const LISTED = 200;

/**
 * Deletes released objects whose lock is over (append-only ones only with `appendOnly`: an admin's storage
 * gc), and counts those still locked. A dry run counts only.
 */
export async function collectReleased(ctx: EngineContext, opts: { dryRun?: boolean; appendOnly?: boolean } = {}): Promise<ReleasedReport> {
  const report: ReleasedReport = { deleted: 0, kept: 0, kept_objects: [], problems: [] };
  const now = ctx.now();
  const rows = await ctx.db.execute<{ location: string; key: string; locked_until: string | null; mode: string }>(
    sql`SELECT location, key, locked_until, mode FROM object_locks WHERE released_at IS NOT NULL ORDER BY locked_until NULLS LAST, location, key`,
  );
  for (const r of rows.rows) {
    const until = r.locked_until ? new Date(r.locked_until) : null;
    const due = until ? until <= now : opts.appendOnly === true;
    const loc = ctx.locations.get(r.location);
    if (!due || !loc || opts.dryRun) {
      if (!due) keep(report, { location: r.location, key: r.key, locked_until: r.locked_until ? until!.toISOString() : null });
      else if (!loc) report.problems.push(`${r.location}: ${r.key} is due for deletion but the location is not configured any more`);
      else report.deleted++;
      continue;
    }
    try {
      const out = await removeAfterRelease(ctx, loc, r.key, opts.appendOnly === true && r.mode === 'append_only');
      if (out.deleted) report.deleted++;
      else keep(report, out.kept);
    } catch (err) {
      report.problems.push(`${r.location}: could not delete ${r.key} after its lock: ${(err as Error).message}; the next storage gc retries`);
    }
  }
  return report;
}

/** A released object whose recorded lock is over: the store decides (it may have a longer one, or be append-only). */
async function removeAfterRelease(ctx: EngineContext, loc: Location, key: string, appendOnly: boolean): Promise<Removal> {
  try {
    if (appendOnly && loc.backend.purge) await loc.backend.purge(key);
    else await loc.backend.delete(key);
  } catch (err) {
    if (!isStorageError(err, 'locked')) throw err;
    const at = err.lockedUntil ? sql`${err.lockedUntil.toISOString()}::timestamptz` : sql`NULL`;
    await ctx.db.execute(sql`UPDATE object_locks SET locked_until = ${at} WHERE location = ${loc.name} AND key = ${key}`);
    return { deleted: false, kept: { location: loc.name, key, locked_until: err.lockedUntil ? err.lockedUntil.toISOString() : null } };
  }
  await ctx.db.execute(sql`DELETE FROM object_locks WHERE location = ${loc.name} AND key = ${key}`);
  return { deleted: true };
}

function keep(report: ReleasedReport, k: KeptLocked): void {
  report.kept++;
  if (report.kept_objects.length < LISTED) report.kept_objects.push(k);
}
