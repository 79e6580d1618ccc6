/**
 * Emergency recovery: rebuilds the catalog from the repositories alone (the database was lost).
 *
 * Storage is untrusted, so nothing is imported on its word: keys must unwrap under the master key, a
 * snapshot must be authentic (repo-trust.ts), every manifest shard is fully checked (content id included),
 * and every shard its chunk table names is checked against the listings. Data shards are not downloaded
 * (sizes come from the listings) unless `readData`: until their content is checked they are imported as
 * unverified (checksum UNVERIFIED), which restore checks on read and dedup never reuses. A backup with a
 * missing or damaged shard is imported with a `degraded` (a copy survives, fewer than the replication
 * factor) or `corrupted` (no readable copy) verification and named in the report. Each backup is imported
 * in one transaction. Idempotent: backups already in the catalog are left as they are.
 *
 * First, unless skipped, the newest authentic catalog snapshot is restored (catalog-snapshot-restore.ts):
 * users, schedules, settings, locations and audit history, which storage alone cannot rebuild. Locations
 * it brings back are opened (`reloadLocations`) before the listing, so storage only they hold is scanned.
 */
import { sql } from 'drizzle-orm';
import { dataKeys } from '../../../db/schema';
import { type CatalogSnapshotReport, emptySnapshotReport, restoreCatalogSnapshot } from '../catalog/catalog-snapshot-restore';
import type { EngineContext } from '../context';
import { forEachLimit } from '../for-each-limit';
import { isQuorumRequired, type WrappedKey } from '../keys/keys';
import { copyKey, listRepository } from './rebuild-listing';
import { type RebuildContext, type RebuiltBackup, checkCopies, readBackup, type RepoKey } from './rebuild-snapshot';
import { type DamagedBackup, importBackup } from './rebuild-import';
import { plaintextAllowed } from '../repository/repo-trust';
import type { ListedCopy } from '../repository/shard-index';
import { ADOPTED_KEY } from '../setup';
import type { SecurityLevel } from '../types';

export type { DamagedBackup };

export interface RecoverReport {
  /** What the catalog snapshot brought back (users, schedules, settings, locations, audit history), or why nothing. */
  catalog_snapshot: CatalogSnapshotReport;
  keys: number;
  shards: number;
  damaged_objects: string[];
  backups: number;
  skipped_backups: { backup_id: string; reason: string }[];
  /** Backups imported with a missing or damaged shard: verify reports the same status. */
  damaged_backups: DamagedBackup[];
  /** Data shards imported from listings without reading them: not dedup targets until verify --read-data. */
  unverified_shards: number;
  /** Data objects no authentic snapshot references (left for storage gc); the first 1000 names. */
  unreferenced_objects: string[];
  unreferenced_count: number;
  /** Locations that could not be listed: the rebuild is incomplete. */
  incomplete_locations: { location: string; error: string }[];
  read_data: boolean;
  duration_seconds: number;
}

export interface RebuildOptions {
  readData?: boolean;
  /** Ignore catalog snapshots (one is suspected to be compromised): rebuild from the repository alone. */
  skipCatalogSnapshot?: boolean;
  /** Opens the locations the restored catalog lists (the engine's location reload). */
  reloadLocations?: () => Promise<unknown>;
}

export async function rebuildCatalog(ctx: EngineContext, opts: RebuildOptions = {}): Promise<RecoverReport> {
  const started = Date.now();
  const readData = Boolean(opts.readData);
  const report: RecoverReport = {
    catalog_snapshot: opts.skipCatalogSnapshot
      ? emptySnapshotReport('skipped (--skip-catalog-snapshot)')
      : // A failed restore (rolled back) must not stop the backups from coming back: it is reported instead.
        await restoreCatalogSnapshot(ctx).catch((err: unknown) => emptySnapshotReport(`the catalog snapshot could not be restored: ${(err as Error).message}`)),
    keys: 0,
    shards: 0,
    damaged_objects: [],
    backups: 0,
    skipped_backups: [],
    damaged_backups: [],
    unverified_shards: 0,
    unreferenced_objects: [],
    unreferenced_count: 0,
    incomplete_locations: [],
    read_data: readData,
    duration_seconds: 0,
  };
  if (report.catalog_snapshot.locations.length) await opts.reloadLocations?.();
  const locs = ctx.locations.enabled().filter((l) => ctx.locations.healthy(l));
  const listing = await listRepository(locs);
  // An enabled location that cannot be reached (e.g. restored from the snapshot, its bucket gone) is not scanned.
  const down = ctx.locations.enabled().filter((l) => !locs.includes(l)).map((l) => ({ location: l.name, error: `unreachable: ${l.lastError ?? 'marked unhealthy'}` }));
  report.incomplete_locations = [...listing.failed, ...down];

  const quorumSealed = new Set<string>();
  const rc: RebuildContext = { ctx, listing, keys: await loadKeys(ctx, listing, report, quorumSealed), allowPlain: await plaintextAllowed(ctx), quorumSealed };
  const referenced = new Set<string>();
  /** Shards this run imported with a replica row for every listed copy: the replica merge skips them. */
  const replicated = new Set<string>();
  const known = new Set((await ctx.db.execute<{ id: string }>(sql`SELECT id FROM backups`)).rows.map((r) => r.id));
  // Reads run in parallel; imports one at a time (backups share shards: no lock contention between them).
  let importing: Promise<void> = Promise.resolve();
  await forEachLimit([...listing.snapshots.keys()].sort(), 4, async (backupId) => {
    if (known.has(backupId)) {
      for (const id of await ctx.index.backupShardIds(backupId)) referenced.add(id);
      return;
    }
    let b: RebuiltBackup;
    try {
      b = await readBackup(rc, backupId);
    } catch (err) {
      report.skipped_backups.push({ backup_id: backupId, reason: (err as Error).message });
      if (isQuorumRequired(err)) return; // not damaged: a later run with shares imports it
      for (const loc of listing.snapshots.get(backupId) ?? []) report.damaged_objects.push(`${loc}:snapshots/${backupId} (${(err as Error).message})`);
      return;
    }
    for (const id of [...b.manifest.keys(), ...(b.chunkIds ?? [])]) referenced.add(id);
    if (readData && b.chunkIds) await forEachLimit([...new Set(b.chunkIds)], 8, async (id) => void (await checkCopies(rc, id, b.doc.security_level as SecurityLevel)));
    const run = importing.then(() => importBackup(rc, b, readData, report));
    importing = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      for (const id of await run) replicated.add(id);
    } catch (err) {
      report.skipped_backups.push({ backup_id: backupId, reason: `not imported: ${(err as Error).message}` });
    }
  });
  await importing;
  await mergeReplicas(ctx, listing.data, referenced, replicated);

  for (const [id, copies] of listing.data) {
    if (referenced.has(id)) continue;
    report.unreferenced_count++;
    if (report.unreferenced_objects.length < 1000) report.unreferenced_objects.push(...copies.map((c) => `${c.location}:${copyKey(id, c)}`));
  }
  report.damaged_objects.sort();
  report.damaged_backups.sort((a, z) => a.backup_id.localeCompare(z.backup_id));
  // Every enabled location was read: the catalog now knows what storage holds, and storage gc may run.
  if (locs.length === ctx.locations.enabled().length && !listing.failed.length) await ctx.db.execute(sql`DELETE FROM settings WHERE key = ${ADOPTED_KEY}`);
  report.duration_seconds = (Date.now() - started) / 1000;
  return report;
}

/** Key objects that unwrap under the master key (a planted or damaged one is reported, not fatal). */
async function loadKeys(ctx: EngineContext, listing: RebuildContext['listing'], report: RecoverReport, quorumSealed: Set<string>): Promise<Map<string, RepoKey>> {
  const keys = new Map<string, RepoKey>();
  await forEachLimit([...listing.keys.entries()], 8, async ([name, where]) => {
    for (const loc of where) {
      try {
        const w = JSON.parse((await ctx.locations.get(loc)!.backend.get(name)).toString('utf8')) as WrappedKey;
        if (name !== `keys/${w.id}.json`) throw new Error('it is stored under another key id');
        if (keys.has(w.id)) return;
        try {
          keys.set(w.id, { key: await ctx.keys.unwrap(w), level: w.securityLevel });
        } catch (err) {
          // A MAXIMUM key opened under master key and second factor, but no quorum shares were given: it is
          // authentic and recorded; the backups it protects are skipped (named in the report) until a run with shares.
          if (!isQuorumRequired(err)) throw err;
          quorumSealed.add(w.id);
        }
        const inserted = await ctx.db
          .insert(dataKeys)
          .values({ id: w.id, securityLevel: w.securityLevel, algorithm: w.algorithm, wrappedKey: w.wrapped, kekId: w.kekId })
          .onConflictDoNothing()
          .returning({ id: dataKeys.id });
        report.keys += inserted.length;
        return;
      } catch (err) {
        report.damaged_objects.push(`${loc}:${name} (${(err as Error).message})`);
      }
    }
  });
  return keys;
}

/**
 * Copies found in storage of shards the catalog already knows (merging a location back in). Shards this run
 * imported already have a row for every listed copy (`replicated`) and are skipped.
 */
async function mergeReplicas(ctx: EngineContext, data: RebuildContext['listing']['data'], referenced: Set<string>, replicated: Set<string>): Promise<void> {
  const copies: ListedCopy[] = [];
  for (const id of referenced) {
    if (replicated.has(id)) continue;
    for (const c of data.get(id) ?? []) copies.push({ shardId: id, location: c.location, piece: c.piece?.index ?? null });
  }
  await ctx.index.addListedCopies(copies);
}
