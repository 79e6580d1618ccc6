/**
 * Verify and repair. Verify checks every replica of every shard a backup references: present, and its
 * SHA-256 matching the catalog (no key needed); with read-data it also decrypts and checks the content.
 * Repair rewrites bad or missing replicas from a good one, and tops up shards below the replication factor.
 */
import { shardReplicas } from '../../db/schema';
import { storedChecksum } from './codec';
import { type BackupRow, type ShardRecord, backupShardRecords } from './catalog';
import type { EngineContext } from './context';
import { parseEntry } from './manifest';
import { ShardReader } from './shard-reader';
import { markReplica, putReplicas } from './shard-store';
import { shardKey } from './repository';
import { isStorageError } from './storage/backend';
import type { BadReplica, RepairResult, SecurityLevel, VerifyResult } from './types';
import { forEachLimit } from './for-each-limit';
import { readChunkTable } from './chunk-table';

const CONCURRENCY = 8;

export async function verifyBackup(ctx: EngineContext, row: BackupRow, readData: boolean): Promise<VerifyResult> {
  const records = await backupShardRecords(ctx.db, row.id);
  const reader = readData ? new ShardReader(ctx, row.securityLevel as SecurityLevel) : null;
  if (reader) await reader.load(records.map((r) => r.id));
  const bad: BadReplica[] = [];
  const lost: string[] = [];
  let replicasChecked = 0;
  await forEachLimit(records, CONCURRENCY, async (rec) => {
    let good = 0;
    for (const rep of rec.replicas) {
      replicasChecked++;
      const problem = await checkReplica(ctx, rec, rep.location);
      if (problem) {
        bad.push(problem);
        await markReplica(ctx, rec.id, rep.location, problem.problem === 'missing' ? 'missing' : 'bad');
      } else {
        good++;
        if (rep.state !== 'ok') await markReplica(ctx, rec.id, rep.location, 'ok');
      }
    }
    if (good > 0 && reader) {
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
  const declared = new Set([...row.manifestShards.files, ...row.manifestShards.chunks]);
  const known = new Set(records.map((r) => r.id));
  for (const id of declared) if (!known.has(id)) lost.push(id);
  const status: VerifyResult['status'] = lost.length ? 'corrupted' : bad.length ? 'degraded' : 'healthy';
  return {
    backup_id: row.id,
    status,
    all_shards_valid: bad.length === 0 && lost.length === 0,
    shards_checked: records.length,
    replicas_checked: replicasChecked,
    read_data: readData,
    bad_shards: bad.sort((a, b) => a.shard_id.localeCompare(b.shard_id) || a.location.localeCompare(b.location)),
    lost_shards: lost.sort(),
    affected_files: lost.length ? await affectedFiles(ctx, row, new Set(lost)) : [],
    checked_at: ctx.now().toISOString(),
  };
}

async function checkReplica(ctx: EngineContext, rec: ShardRecord, location: string): Promise<BadReplica | null> {
  const loc = ctx.locations.get(location);
  const base = { shard_id: rec.id, location };
  if (!loc) return { ...base, problem: 'unreadable', message: `Shard ${rec.id} has a replica at ${location}, which is no longer configured` };
  try {
    const stored = await loc.backend.get(shardKey(rec.id));
    if ((await ctx.pool.checksum(stored)) !== rec.checksum) return { ...base, problem: 'checksum_mismatch', message: `Shard checksum mismatch for ${rec.id} at ${location}` };
    return null;
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
  const records = new Map((await backupShardRecords(ctx.db, row.id)).map((r) => [r.id, r]));
  const touched = new Set(before.bad_shards.map((b) => b.shard_id).filter((id) => !unrepairable.has(id)));
  await forEachLimit([...touched], CONCURRENCY, async (id) => {
    const rec = records.get(id)!;
    let source: Buffer | null = null;
    const good: string[] = [];
    for (const rep of rec.replicas) {
      const loc = ctx.locations.get(rep.location);
      if (!loc) continue;
      try {
        const stored = await loc.backend.get(shardKey(id));
        if (storedChecksum(stored) === rec.checksum) {
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
          await ctx.db.insert(shardReplicas).values({ shardId: id, location: loc.name, state: 'ok', checkedAt: ctx.now() }).onConflictDoUpdate({
            target: [shardReplicas.shardId, shardReplicas.location],
            set: { state: 'ok', checkedAt: ctx.now() },
          });
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
