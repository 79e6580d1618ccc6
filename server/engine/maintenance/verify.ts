/**
 * Verify and repair. Verify walks the backup's manifest (its entries and chunk table), not the catalog's
 * rows: every shard the manifest references must be in the catalog and have replicas in storage, whose
 * SHA-256 matches the catalog (no key needed); with read-data it also decrypts and checks the content.
 * A shard imported from storage unverified (content-check.ts) is checked in full by read-data, and from
 * then on is an ordinary shard (a dedup target). Repair rewrites bad or missing replicas from a good one,
 * and tops up shards below the replication factor; a lost shard is re-created where it can be (shard-rebuild.ts).
 */
import { IntegrityError, storedChecksum } from '../repository/codec';
import type { BackupRow, ShardRecord } from '../catalog/catalog';
import { UNVERIFIED } from '../repository/content-check';
import type { EngineContext } from '../context';
import { parseEntry } from '../repository/manifest';
import { ShardReader } from '../restore/shard-reader';
import { markReplica, putReplicas } from '../repository/shard-store';
import { shardKey } from '../repository/repository';
import { isStorageError } from '../storage/backend';
import type { BadReplica, RepairResult, SecurityLevel, VerifyResult } from '../types';
import { forEachLimit } from '../for-each-limit';
import { readChunkTable } from '../repository/chunk-table';
import { recreateLostShards } from './shard-rebuild';
import { checkPieces, repairPieces } from './verify-pieces';

const CONCURRENCY = 8;

/** Every shard the backup references: its manifest shards and its chunk table, plus the shard index's references. */
async function referencedShards(ctx: EngineContext, row: BackupRow, reader: ShardReader): Promise<{ ids: string[]; manifestProblem: string | null }> {
  const { files, chunks } = row.manifestShards;
  const ids = new Set([...files, ...chunks]);
  let manifestProblem: string | null = null;
  try {
    await reader.load(chunks);
    for (const id of await readChunkTable(reader.lines(chunks))) ids.add(id);
  } catch (err) {
    manifestProblem = `The manifest of backup ${row.id} cannot be read: ${(err as Error).message}`;
  }
  for (const id of await ctx.index.backupShardIds(row.id)) ids.add(id);
  return { ids: [...ids], manifestProblem };
}

export async function verifyBackup(ctx: EngineContext, row: BackupRow, readData: boolean): Promise<VerifyResult> {
  const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel);
  const { ids, manifestProblem } = await referencedShards(ctx, row, reader);
  const records = await ctx.index.records(ids);
  if (readData) await reader.load([...records.keys()]);
  const bad: BadReplica[] = [];
  const lost: string[] = [];
  if (manifestProblem) bad.push({ shard_id: row.manifestShards.chunks[0] ?? '*', location: '*', problem: 'unreadable', message: manifestProblem });
  for (const id of ids) {
    if (records.has(id)) continue;
    lost.push(id);
    bad.push({ shard_id: id, location: '*', problem: 'missing', message: `Shard ${id} is referenced by backup ${row.id} but is not in the catalog (run recover-catalog, or restore what is left)` });
  }
  let replicasChecked = 0;
  await forEachLimit([...records.values()], CONCURRENCY, async (rec) => {
    if (rec.coding) {
      replicasChecked += rec.replicas.length;
      if (!(await verifyCoded(ctx, rec, reader, readData, bad))) lost.push(rec.id);
      return;
    }
    const unverified = rec.checksum === UNVERIFIED;
    let good = 0;
    let checked: { checksum: string; plainSize: number; keyId: string; compression: string } | null = null;
    for (const rep of rec.replicas) {
      replicasChecked++;
      const problem = await checkReplica(ctx, rec, rep.location, async (stored) => {
        if (!unverified) return (await ctx.pool.checksum(stored)) === rec.checksum ? null : `Shard checksum mismatch for ${rec.id} at ${rep.location}`;
        if (!readData) return (await ctx.pool.checksum(stored)) !== null ? null : `Shard ${rec.id} at ${rep.location} is damaged (its checksum does not match its bytes)`;
        // Imported unverified: the first copy is checked in full, the others must be the same bytes.
        if (checked) return stored.subarray(stored.length - 32).toString('hex') === checked.checksum && storedChecksum(stored) ? null : `Shard ${rec.id} at ${rep.location} differs from its checked copy`;
        try {
          checked = await reader.check(rec.id, stored);
          return null;
        } catch (err) {
          if (err instanceof IntegrityError) return `Shard ${rec.id} at ${rep.location} fails its content check: ${err.message}`;
          throw err;
        }
      });
      if (problem) {
        bad.push(problem);
        await markReplica(ctx, rec.id, rep.location, problem.problem === 'missing' ? 'missing' : 'bad');
      } else {
        good++;
        if (rep.state !== 'ok') await markReplica(ctx, rec.id, rep.location, 'ok');
      }
    }
    if (checked) await recordChecked(ctx, rec.id, checked);
    else if (unverified && readData) good = 0;
    if (good > 0 && readData && !unverified) {
      try {
        await reader.read(rec.id);
      } catch (err) {
        bad.push({ shard_id: rec.id, location: '*', problem: 'decrypt_failed', message: `Shard ${rec.id} cannot be decrypted: ${(err as Error).message}` });
        good = 0;
      }
    }
    if (good === 0) lost.push(rec.id);
    else if (good < ctx.config.replication_factor && !bad.some((b) => b.shard_id === rec.id)) {
      bad.push({ shard_id: rec.id, location: '*', problem: 'missing', message: `Shard ${rec.id} has ${good} replica(s), fewer than the replication factor ${ctx.config.replication_factor}` });
    }
  });
  const status: VerifyResult['status'] = lost.length || manifestProblem ? 'corrupted' : bad.length ? 'degraded' : 'healthy';
  return {
    backup_id: row.id,
    status,
    all_shards_valid: bad.length === 0 && lost.length === 0,
    shards_checked: ids.length,
    replicas_checked: replicasChecked,
    read_data: readData,
    bad_shards: bad.sort((a, b) => a.shard_id.localeCompare(b.shard_id) || a.location.localeCompare(b.location)),
    lost_shards: [...new Set(lost)].sort(),
    affected_files: lost.length ? await affectedFiles(ctx, row, new Set(lost)) : manifestProblem ? ['(the manifest itself is damaged: every file is affected)'] : [],
    checked_at: ctx.now().toISOString(),
  };
}

/** An unverified shard (imported from storage) whose copy passed the full content check: the catalog learns its checksum. */
async function recordChecked(ctx: EngineContext, id: string, c: { checksum: string; plainSize: number; keyId: string; compression: string }): Promise<void> {
  await ctx.index.recordChecked(id, c);
}

/**
 * An erasure-coded shard, piece by piece (verify-pieces.ts): adds its bad pieces to `bad`, records what it
 * found in the replica rows, and says whether the shard can still be read (at least k good pieces; with
 * read-data, rebuilt and decrypted).
 */
async function verifyCoded(ctx: EngineContext, rec: ShardRecord, reader: ShardReader, readData: boolean, bad: BadReplica[]): Promise<boolean> {
  const unverified = rec.checksum === UNVERIFIED;
  const r = await checkPieces(ctx, rec, { rebuild: readData, accept: unverified ? (stored) => reader.check(rec.id, stored) : undefined });
  bad.push(...r.bad);
  for (const rep of rec.replicas) {
    const found = r.bad.find((b) => b.location === rep.location);
    if (found) await markReplica(ctx, rec.id, rep.location, found.problem === 'missing' ? 'missing' : 'bad');
    else if (rep.state !== 'ok' && r.good.includes(rep.location)) await markReplica(ctx, rec.id, rep.location, 'ok');
  }
  if (r.checked) await recordChecked(ctx, rec.id, r.checked);
  if (!readData) return r.good.length >= rec.coding!.k;
  if (!r.object) return false;
  if (unverified) return true;
  try {
    await reader.read(rec.id);
    return true;
  } catch (err) {
    bad.push({ shard_id: rec.id, location: '*', problem: 'decrypt_failed', message: `Shard ${rec.id} cannot be decrypted: ${(err as Error).message}` });
    return false;
  }
}

/** One replica: missing, unreadable, or whatever `judge` finds wrong with its bytes (null: good). */
async function checkReplica(ctx: EngineContext, rec: ShardRecord, location: string, judge: (stored: Buffer) => Promise<string | null>): Promise<BadReplica | null> {
  const loc = ctx.locations.get(location);
  const base = { shard_id: rec.id, location };
  if (!loc) return { ...base, problem: 'unreadable', message: `Shard ${rec.id} has a replica at ${location}, which is no longer configured` };
  try {
    const stored = await loc.backend.get(shardKey(rec.id));
    const wrong = await judge(stored);
    return wrong ? { ...base, problem: 'checksum_mismatch', message: wrong } : null;
  } catch (err) {
    if (isStorageError(err, 'not_found')) return { ...base, problem: 'missing', message: `Shard ${rec.id} is missing at ${location}` };
    return { ...base, problem: 'unreadable', message: `Shard ${rec.id} unreadable at ${location}: ${(err as Error).message}` };
  }
}

/** Files whose data lies in a lost shard (when the manifest itself is still readable). */
async function affectedFiles(ctx: EngineContext, row: BackupRow, lost: Set<string>): Promise<string[]> {
  const { files, chunks } = row.manifestShards;
  if ([...files, ...chunks].some((id) => lost.has(id))) return ['(the manifest itself is damaged: every file is affected)'];
  try {
    const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel);
    await reader.load([...files, ...chunks]);
    const chunkIds = await readChunkTable(reader.lines(chunks));
    const out: string[] = [];
    for await (const line of reader.lines(files)) {
      const e = parseEntry(line);
      if (e.x?.some(([k]) => lost.has(chunkIds[k] ?? ''))) out.push(e.p);
    }
    return out;
  } catch (err) {
    return [`(could not read the manifest: ${(err as Error).message})`];
  }
}

export async function repairBackup(ctx: EngineContext, row: BackupRow): Promise<RepairResult> {
  const before = await verifyBackup(ctx, row, false);
  const repaired: RepairResult['repaired'] = [];
  const unrepairable = new Set(before.lost_shards);
  const reader = new ShardReader(ctx, row.securityLevel as SecurityLevel);
  // repair_missing_shards: a shard with no good copy is re-created from another shard with the same content
  // or from the source files (shard-rebuild.ts); what is left is unrepairable.
  for (const r of await recreateLostShards(ctx, row, reader, before.lost_shards)) {
    unrepairable.delete(r.shard_id);
    for (const location of r.locations) repaired.push({ shard_id: r.shard_id, location });
  }
  const records = new Map((await ctx.index.backupRecords(row.id)).map((r) => [r.id, r]));
  const touched = new Set(before.bad_shards.map((b) => b.shard_id).filter((id) => !unrepairable.has(id) && !before.lost_shards.includes(id) && records.has(id)));
  // A coded shard's piece can pass its own checksum and still be wrong (found by verify --read-data only):
  // repair checks every coded shard's pieces against the object they rebuild (verify-pieces.ts).
  for (const rec of records.values()) if (rec.coding && !before.lost_shards.includes(rec.id) && !unrepairable.has(rec.id)) touched.add(rec.id);
  await forEachLimit([...touched], CONCURRENCY, async (id) => {
    const rec = records.get(id)!;
    if (rec.coding) {
      try {
        for (const p of await repairPieces(ctx, rec, row.id)) repaired.push({ shard_id: id, location: p.location, piece: p.piece });
      } catch (err) {
        ctx.log(`repair of ${id} failed: ${(err as Error).message}`);
        unrepairable.add(id);
      }
      return;
    }
    let source: Buffer | null = null;
    const good: string[] = [];
    for (const rep of rec.replicas) {
      const loc = ctx.locations.get(rep.location);
      if (!loc) continue;
      try {
        const stored = await loc.backend.get(shardKey(id));
        // An unverified shard (rebuilt from storage) is copied only from a replica whose content checks out.
        const sound = rec.checksum === UNVERIFIED ? await reader.check(id, Buffer.from(stored)).then(() => true, () => false) : storedChecksum(stored) === rec.checksum;
        if (sound) {
          source ??= stored;
          good.push(rep.location);
        }
      } catch {
        // not a usable source
      }
    }
    if (!source) {
      unrepairable.add(id);
      return;
    }
    // Rewrite bad copies in place, then add new locations if the factor is still not met.
    for (const rep of rec.replicas) {
      if (good.includes(rep.location)) continue;
      const loc = ctx.locations.get(rep.location);
      if (!loc || !loc.config.enabled) continue;
      try {
        await loc.backend.put(shardKey(id), source);
        await markReplica(ctx, id, rep.location, 'ok');
        good.push(rep.location);
        repaired.push({ shard_id: id, location: rep.location });
      } catch (err) {
        ctx.log(`repair of ${id} at ${rep.location} failed: ${(err as Error).message}`);
      }
    }
    if (good.length < ctx.config.replication_factor) {
      try {
        const added = await putReplicas(ctx, shardKey(id), source, row.id, {
          exclude: new Set(rec.replicas.map((r) => r.location)),
          want: ctx.config.replication_factor - good.length,
        });
        for (const loc of added) {
          await ctx.index.addReplica(id, loc.name, ctx.now());
          repaired.push({ shard_id: id, location: loc.name });
        }
      } catch (err) {
        ctx.log(`could not add replicas for ${id}: ${(err as Error).message}`);
      }
    }
  });
  const after = await verifyBackup(ctx, row, false);
  return { backup_id: row.id, repaired, unrepairable: [...unrepairable].sort(), status: after.status };
}
