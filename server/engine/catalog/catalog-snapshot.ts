/**
 * Catalog snapshots: the catalog tables that storage cannot rebuild (users with their password hashes,
 * schedules, settings, console-added storage locations, the audit history) and the config file's location
 * list, written encrypted to every enabled location so that `recover-catalog` brings them back with the
 * master key and any one surviving location (catalog-snapshot-restore.ts). Backups, shards and keys are
 * not in it: the repository itself rebuilds those.
 *
 * When: every catalog-changing action writes an audit event, so "has max(audit_events.id) moved since the
 * last snapshot?" (one primary-key lookup) finds every change without hooks in each store. It is asked
 * at the end of every completed backup, on every worker tick and when the engine closes (so a CLI
 * `user add` without a running worker still leaves a snapshot); it writes at most every MIN_INTERVAL_MS
 * (except on close) and at least once a day. Sign-in attempts and blocks change nothing a snapshot holds, so
 * they do not count as changes (a password-guessing run must not cause a snapshot every five minutes).
 * The last write is recorded in `settings` (`catalog_snapshot`).
 *
 * Never while the catalog is a new one created over an existing repository and not yet recovered
 * (`repository_adopted`): its near-empty state would become the newest snapshot and push out the ones
 * recover-catalog needs.
 */
import { desc, sql } from 'drizzle-orm';
import { auditEvents, restoreDrills, restoreJobs, schedules, settings, storageLocations, users } from '../../../db/schema';
import type { StorageLocationConfig } from '../../config';
import { isSecretKey } from '../../config-cloud';
import { CATALOG_FORMAT, CATALOG_PREFIX, CATALOG_VERSION, type CatalogSnapshotDoc, encodeSnapshot, type LocationRow, nameTime, snapshotName } from './catalog-snapshot-format';
import type { EngineContext } from '../context';
import { sealSecret } from '../keys/keys';
import { CREDENTIAL_KEYS } from '../storage/location-store';
import { ADOPTED_KEY } from '../setup';
import type { Location } from '../storage/locations';
import { putObject, removeObject } from '../storage/object-locks';

export const STATE_KEY = 'catalog_snapshot';
/** Written by recover-catalog once a snapshot is restored: it is restored once per catalog. */
export const RESTORED_KEY = 'catalog_snapshot_restored';
export const MIN_INTERVAL_MS = 5 * 60_000;
/** Audit actions that do not change the catalog a snapshot holds. */
const SIGN_IN_ACTIONS = ['auth.signin', 'auth.block'];
export const MAX_AGE_MS = 24 * 3600_000;
/** Snapshots kept per location (the newest); older ones are deleted after each write. */
export const KEEP = 5;
/** At most this many restore drills (the newest): the RTO trend and each source's last drill. */
const DRILL_CAP = 2_000;
/** At most this many restore jobs (the newest): who restored what, when, and how it ended. */
const RESTORE_JOB_CAP = 2_000;

/** At most this many audit events (the newest): about 200 bytes each before compression. */
export const AUDIT_CAP = 200_000;

/**
 * Settings rows that describe this catalog's own state rather than the installation's choices: the
 * repository identity (config.json is its authority), rotation and gc bookkeeping, claims, this module's
 * own rows. Everything else (alert settings, schedule owners, future console settings) is kept.
 */
export function transientSetting(key: string): boolean {
  return ['repository', ADOPTED_KEY, 'keys', 'gc:orphans', STATE_KEY, RESTORED_KEY].includes(key) || key.startsWith('maintenance:');
}

export type Trigger = 'change' | 'close';

export interface WriteResult {
  name: string;
  bytes: number;
  audit_id: number;
  written: string[];
  failed: { location: string; error: string }[];
}

/** Writes a snapshot now if one is due (see the module comment); null when none was due. */
export async function snapshotIfDue(ctx: EngineContext, trigger: Trigger): Promise<WriteResult | null> {
  const r = await ctx.db.execute<{ max_id: string | null; state: { audit_id?: number; at?: string } | null; adopted: number | null }>(sql`
    SELECT (SELECT id FROM audit_events WHERE action NOT IN (${sql.join(SIGN_IN_ACTIONS.map((a) => sql`${a}`), sql`, `)}) ORDER BY id DESC LIMIT 1) AS max_id,
           (SELECT value FROM settings WHERE key = ${STATE_KEY}) AS state,
           (SELECT 1 FROM settings WHERE key = ${ADOPTED_KEY}) AS adopted`);
  const row = r.rows[0];
  if (!row || row.adopted !== null || row.max_id === null) return null;
  const maxId = Number(row.max_id);
  const last = row.state;
  const age = last?.at ? ctx.now().getTime() - Date.parse(last.at) : Infinity;
  const changed = maxId > (last?.audit_id ?? 0);
  const due = age >= MAX_AGE_MS || (changed && (trigger === 'close' || age >= MIN_INTERVAL_MS));
  return due ? writeCatalogSnapshot(ctx) : null;
}

/** Dumps, seals and writes a snapshot to every enabled location, records it, then prunes older ones. */
export async function writeCatalogSnapshot(ctx: EngineContext): Promise<WriteResult> {
  const doc = await dump(ctx);
  const name = snapshotName(ctx.now());
  const body = encodeSnapshot(ctx.idKey, name, doc);
  const result: WriteResult = { name, bytes: body.length, audit_id: doc.audit_id, written: [], failed: [] };
  await Promise.all(
    ctx.locations.enabled().map(async (loc) => {
      try {
        // Each backend's put is atomic (temp file + rename, or one PUT): a reader sees all of it or nothing.
        // Locked where the location is immutable (min_days: a catalog snapshot belongs to no one backup).
        await putObject(ctx, loc, name, body, null);
        result.written.push(loc.name);
        await prune(ctx, loc);
      } catch (err) {
        result.failed.push({ location: loc.name, error: (err as Error).message });
      }
    }),
  );
  if (result.failed.length) ctx.log(`catalog snapshot ${name}: not written to ${result.failed.map((f) => `${f.location} (${f.error})`).join(', ')}`);
  if (result.written.length) {
    const value = { audit_id: doc.audit_id, at: doc.created_at, name, bytes: body.length, locations: result.written };
    // Only forward: a slower concurrent writer never records an older state over a newer one.
    await ctx.db.execute(sql`
      INSERT INTO settings (key, value) VALUES (${STATE_KEY}, ${JSON.stringify(value)}::jsonb)
      ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()
      WHERE (settings.value->>'audit_id')::bigint <= ${doc.audit_id}`);
  }
  return result;
}

/**
 * Keeps the newest KEEP snapshots; names claiming a future time are neither counted nor deleted (planted).
 * A locked older one stays (recorded, object-locks.ts) and is deleted after its lock.
 */
async function prune(ctx: EngineContext, loc: Location): Promise<void> {
  const now = ctx.now().getTime();
  const names: string[] = [];
  for await (const o of loc.backend.list(CATALOG_PREFIX)) {
    const t = nameTime(o.key);
    if (t !== null && t <= now + 60_000) names.push(o.key);
  }
  names.sort();
  for (const old of names.slice(0, Math.max(0, names.length - KEEP))) await removeObject(ctx, loc, old, 'catalog snapshot pruned');
}

/** The tables, read in one repeatable-read transaction so they agree with each other. */
async function dump(ctx: EngineContext): Promise<CatalogSnapshotDoc> {
  const [repo] = await ctx.db.execute<{ repo_id: string }>(sql`SELECT value->>'repo_id' AS repo_id FROM settings WHERE key = 'repository'`).then((r) => r.rows);
  const tables = await ctx.db.transaction(
    async (tx) => {
      const audit = await tx.select().from(auditEvents).orderBy(desc(auditEvents.id)).limit(AUDIT_CAP);
      const [total] = await tx.execute<{ n: string }>(sql`SELECT count(*) AS n FROM audit_events`).then((r) => r.rows);
      return {
        users: await tx.select().from(users),
        schedules: await tx.select().from(schedules),
        settings: (await tx.select().from(settings)).filter((s) => !transientSetting(s.key)),
        storage_locations: await tx.select().from(storageLocations),
        audit_events: audit.reverse(),
        restore_drills: (await tx.select().from(restoreDrills).orderBy(desc(restoreDrills.startedAt)).limit(DRILL_CAP)).reverse(),
        restore_jobs: (await tx.select().from(restoreJobs).orderBy(desc(restoreJobs.createdAt)).limit(RESTORE_JOB_CAP)).reverse(),
        left_out: Number(total?.n ?? 0) - audit.length,
      };
    },
    { isolationLevel: 'repeatable read', accessMode: 'read only' },
  );
  const { left_out, ...rest } = tables;
  return {
    format: CATALOG_FORMAT,
    version: CATALOG_VERSION,
    repo_id: repo?.repo_id ?? '',
    created_at: ctx.now().toISOString(),
    audit_id: rest.audit_events.at(-1)?.id ?? 0,
    audit_left_out: left_out,
    master_key: ctx.keys.masterId,
    config_locations: ctx.config.storage_locations.map((l) => locationRow(l, ctx.keys.allMasters[0]!)),
    tables: rest as unknown as CatalogSnapshotDoc['tables'],
  };
}

const COLUMNS = new Set(['name', 'type', 'priority', 'max_size_gb', 'region', 'enabled']);

/** A config-file location in the catalog's row form, credentials sealed as LocationStore seals them. */
export function locationRow(loc: StorageLocationConfig, master: Buffer): LocationRow {
  const plain: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(loc)) {
    if (COLUMNS.has(k) || v === undefined) continue;
    if (((CREDENTIAL_KEYS as readonly string[]).includes(k) || isSecretKey(k)) && typeof v === 'string') secrets[k] = v;
    else plain[k] = v;
  }
  return {
    name: loc.name,
    type: loc.type,
    settings: plain,
    secrets: Object.keys(secrets).length ? sealSecret(master, JSON.stringify(secrets), `storage_location:${loc.name}`) : null,
    priority: loc.priority,
    maxSizeGb: loc.max_size_gb ?? null,
    region: loc.region,
    enabled: loc.enabled,
  };
}

/**
 * One per engine: at most one write in flight, and close waits for it. Never throws: a failed snapshot is
 * logged and tried again at the next trigger (the state row is only updated after a write).
 */
export class CatalogSnapshotter {
  private running: Promise<void> | null = null;

  constructor(private readonly ctx: EngineContext) {}

  trigger(kind: Trigger = 'change'): Promise<void> {
    if (this.running) return kind === 'close' ? this.running.then(() => this.trigger(kind)) : this.running;
    this.running = snapshotIfDue(this.ctx, kind)
      .then(() => undefined)
      .catch((err: unknown) => this.ctx.log(`catalog snapshot failed (it is tried again later): ${(err as Error).message}`))
      .finally(() => (this.running = null));
    return this.running;
  }
}
