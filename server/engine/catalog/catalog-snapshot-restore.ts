/**
 * recover-catalog's first step: the newest authentic catalog snapshot (catalog-snapshot.ts) is restored
 * into a new catalog — users, schedules, settings, storage locations, the audit history up to the
 * snapshot — before the repository rebuild lists backups. Its location list brings back the locations only
 * the lost catalog (or the lost config file) knew, so the rebuild scans them too.
 *
 * Only into a catalog created over an existing repository and not yet recovered (settings
 * `repository_adopted`), and once: a live catalog is never merged with an old snapshot (that would bring
 * back deleted users with their old passwords). Rows the new catalog made meanwhile (a first admin, a
 * schedule) win over the snapshot's and are reported. Copies that fail authentication are reported and
 * the next older snapshot is tried.
 */
import { getTableColumns, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import { auditEvents, restoreDrills, restoreJobs, schedules, settings, storageLocations, users } from '../../../db/schema';
import { CATALOG_PREFIX, type CatalogSnapshotDoc, decodeSnapshot, nameTime, type Row } from './catalog-snapshot-format';
import { RESTORED_KEY, transientSetting } from './catalog-snapshot';
import type { EngineContext } from '../context';
import { ADOPTED_KEY } from '../setup';

export interface CatalogSnapshotReport {
  /** The snapshot restored (`catalog/<time>-<random>`), or null. */
  used: string | null;
  created_at: string | null;
  /** Why nothing was restored, when nothing was. */
  not_restored_reason: string | null;
  restored: { users: number; schedules: number; settings: number; locations: number; audit_events: number; restore_drills: number; restore_jobs: number };
  /** Rows the new catalog already had (kept as they are): user emails, schedule names, location names, setting keys. */
  kept_existing: string[];
  /** Locations that came back (console-added, or from the lost config file): the rebuild scans them too. */
  locations: string[];
  /** Copies refused (forged, tampered, damaged, another repository), with the reason. */
  rejected: { object: string; reason: string }[];
  /** Audit events the snapshot left out (older than its cap). */
  audit_left_out: number;
}

export function emptySnapshotReport(reason: string | null): CatalogSnapshotReport {
  return { used: null, created_at: null, not_restored_reason: reason, restored: { users: 0, schedules: 0, settings: 0, locations: 0, audit_events: 0, restore_drills: 0, restore_jobs: 0 }, kept_existing: [], locations: [], rejected: [], audit_left_out: 0 };
}

export async function restoreCatalogSnapshot(ctx: EngineContext): Promise<CatalogSnapshotReport> {
  const state = await ctx.db.execute<{ adopted: number | null; restored: { name?: string } | null; repo_id: string | null }>(sql`
    SELECT (SELECT 1 FROM settings WHERE key = ${ADOPTED_KEY}) AS adopted,
           (SELECT value FROM settings WHERE key = ${RESTORED_KEY}) AS restored,
           (SELECT value->>'repo_id' FROM settings WHERE key = 'repository') AS repo_id`);
  const s = state.rows[0]!;
  if (s.restored) return emptySnapshotReport(`already restored from ${String(s.restored.name)} by an earlier run`);
  if (s.adopted === null) return emptySnapshotReport('this catalog was not created over an existing repository (or was recovered already): a catalog snapshot is restored only into a new catalog');

  const report = emptySnapshotReport(null);
  const found = await listSnapshots(ctx, report);
  let chosen: { name: string; doc: CatalogSnapshotDoc } | null = null;
  for (const [name, where] of found) {
    for (const loc of where) {
      try {
        const stored = await ctx.locations.get(loc)!.backend.get(name);
        chosen = { name, doc: decodeSnapshot(ctx.idKey, name, stored, s.repo_id ?? '') };
        break;
      } catch (err) {
        report.rejected.push({ object: `${loc}:${name}`, reason: (err as Error).message });
      }
    }
    if (chosen) break;
  }
  if (!chosen) {
    report.not_restored_reason = found.length ? 'no catalog snapshot is authentic (see rejected)' : 'no location holds a catalog snapshot (written by versions with catalog snapshots, after the first backup or change)';
    return report;
  }
  await apply(ctx, chosen.name, chosen.doc, report);
  return report;
}

/** Every snapshot name on the enabled locations, newest first, with the locations holding it. */
async function listSnapshots(ctx: EngineContext, report: CatalogSnapshotReport): Promise<[string, string[]][]> {
  const where = new Map<string, string[]>();
  await Promise.all(
    ctx.locations.enabled().map(async (loc) => {
      try {
        for await (const o of loc.backend.list(CATALOG_PREFIX)) {
          if (nameTime(o.key) === null) continue;
          where.set(o.key, [...(where.get(o.key) ?? []), loc.name]);
        }
      } catch (err) {
        report.rejected.push({ object: `${loc.name}:${CATALOG_PREFIX}`, reason: `could not be listed: ${(err as Error).message}` });
      }
    }),
  );
  return [...where].sort((a, z) => z[0].localeCompare(a[0]));
}

/** Restores the snapshot's rows in one transaction: all of it or nothing. */
async function apply(ctx: EngineContext, name: string, doc: CatalogSnapshotDoc, report: CatalogSnapshotReport): Promise<void> {
  const t = doc.tables;
  const configured = new Set(ctx.config.storage_locations.map((l) => l.name));
  // Locations of the lost config file that the new one lacks come back as console-managed locations.
  const consoleNames = new Set(t.storage_locations.map((l) => l.name));
  const fromConfig = doc.config_locations.filter((l) => !configured.has(l.name) && !consoleNames.has(l.name));
  const locationRows = [...t.storage_locations, ...fromConfig].map((l) => ({ ...l, healthy: true, lastError: null, lastCheckedAt: null }));

  await ctx.db.transaction(async (tx) => {
    const put = async (table: PgTable, rows: Row[], label: (r: Row) => string): Promise<number> => {
      let n = 0;
      for (let i = 0; i < rows.length; i += 500) {
        const part = rows.slice(i, i + 500).map((r) => revive(table, r));
        if (!part.length) continue;
        // Any unique clash (id, email, name, key) keeps the new catalog's row.
        const done = (await tx.insert(table).values(part).onConflictDoNothing().returning()) as Row[];
        n += done.length;
        const inserted = new Set(done.map(label));
        for (const r of part) if (!inserted.has(label(r))) report.kept_existing.push(label(r));
      }
      return n;
    };
    report.restored.users = await put(users, t.users, (r) => `user ${String(r.email)}`);
    report.restored.schedules = await put(schedules, t.schedules.map((r) => ({ ...r, watcherId: null, watcherSeenAt: null })), (r) => `schedule ${String(r.name)}`);
    report.restored.settings = await put(settings, t.settings.filter((r) => !transientSetting(String(r.key))), (r) => `setting ${String(r.key)}`);
    report.restored.locations = await put(storageLocations, locationRows, (r) => `location ${String(r.name)}`);
    report.restored.audit_events = await restoreAudit(tx, t.audit_events);
    // A drill that was running when the snapshot was taken never finished as far as anyone can tell.
    const drills = (t.restore_drills ?? []).map((r) => (r.status === 'running' ? { ...r, status: 'failed', error: 'interrupted: the catalog was lost while this drill ran' } : r));
    report.restored.restore_drills = await put(restoreDrills, drills, (r) => `restore drill ${String(r.id)}`);
    // Likewise a restore queued or running then: no process owns it any more, and nobody will pick it up again.
    const jobs = (t.restore_jobs ?? []).map((r) =>
      r.status === 'queued' || r.status === 'running'
        ? { ...r, status: 'failed', error: 'interrupted: the catalog was lost while this restore ran', claimedBy: null, ownerPid: null, ownerHost: null, heartbeatAt: null, finishedAt: r.finishedAt ?? doc.created_at }
        : r,
    );
    report.restored.restore_jobs = await put(restoreJobs, jobs, (r) => `restore job ${String(r.id)}`);
    await tx.insert(settings).values({ key: RESTORED_KEY, value: { name, created_at: doc.created_at, audit_id: doc.audit_id, at: ctx.now().toISOString() } }).onConflictDoNothing();
  });
  report.used = name;
  report.created_at = doc.created_at;
  report.audit_left_out = doc.audit_left_out;
  report.locations = locationRows.map((l) => l.name).filter((n) => !report.kept_existing.includes(`location ${n}`));
}

type Tx = Parameters<Parameters<EngineContext['db']['transaction']>[0]>[0];

/**
 * The audit history keeps its ids: events the new catalog wrote meanwhile (all newer than the loss) move
 * above the snapshot's, and the id sequence continues after the highest.
 */
async function restoreAudit(tx: Tx, rows: Row[]): Promise<number> {
  if (!rows.length) return 0;
  const snapMax = Math.max(...rows.map((r) => Number(r.id)));
  const [cur] = (await tx.execute<{ max: string | null }>(sql`SELECT max(id) AS max FROM audit_events`)).rows;
  const existingMax = Number(cur?.max ?? 0);
  // Shifted past both maxima, so no shifted id can meet an existing or a restored one.
  if (existingMax) await tx.execute(sql`UPDATE audit_events SET id = id + ${snapMax + existingMax}`);
  let n = 0;
  for (let i = 0; i < rows.length; i += 1000) {
    const part = rows.slice(i, i + 1000).map((r) => revive(auditEvents, r));
    n += (await tx.insert(auditEvents).values(part as (typeof auditEvents.$inferInsert)[]).onConflictDoNothing().returning({ id: auditEvents.id })).length;
  }
  await tx.execute(sql`SELECT setval(pg_get_serial_sequence('audit_events', 'id'), (SELECT max(id) FROM audit_events))`);
  return n;
}

/** A row as the schema's columns expect it: only known columns, timestamps as Dates (JSON made them strings). */
function revive(table: PgTable, row: Row): Row {
  const out: Row = {};
  for (const [key, col] of Object.entries(getTableColumns(table))) {
    if (!(key in row)) continue;
    const v = row[key];
    out[key] = col.dataType === 'date' && typeof v === 'string' ? new Date(v) : v;
  }
  return out;
}
