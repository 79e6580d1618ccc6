/**
 * Creating a backup: validation, a `pending` row that waits its turn in the backup queue (backup-queue.ts:
 * priority first, then age, under max_concurrent_backups), then the data key (recorded under the rotation
 * lock), the data, the manifest and the snapshot in the order docs/repository-format.md gives ("Write
 * ordering"), and only then `completed`. A failure at any point leaves a failed row, never a completed one.
 */
import { and, eq, sql } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { backups, dataKeys } from '../../../db/schema';
import { type BackupInput, writeBackupData } from './backup';
import { findBase, loadBaseIndex } from './base-index';
import { judgeChange, loadPrevious } from './change-signals';
import { waitForSlot } from './backup-queue';
import { auditKeyUse } from '../keys/key-audit';
import { refreshSpace } from '../storage/location-space';
import { type BackupRow, getBackupRow, toMetadata } from '../catalog/catalog';
import { encodeObject } from '../repository/codec';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import { checkPayloadName } from '../repository/manifest';
import { assertCurrentMaster, KEYS_SETTING, rotatedElsewhere } from '../keys/key-rotation';
import { cipherFor } from '../keys/keys';
import { operationQuorum } from '../keys/quorum';
import { refreshQuorum } from '../keys/quorum-store';
import { wrappedFromRow } from '../setup';
import { ProgressTracker } from './progress';
import { keyKey, snapshotKey, snapshotLabel, type SnapshotDoc } from '../repository/repository';
import { putReplicas } from '../repository/shard-store';
import { sealSnapshot } from '../repository/repo-trust';
import { resolveSources } from './source';
import { BACKUP_TYPES, type BackupMetadata, type BackupType, type CreateBackupOptions, type SecurityLevel } from '../types';
import { extendBackupLocks, putObject, removeObject } from '../storage/object-locks';

const HEARTBEAT_MS = 1000;

/** Validates, records the backup as running and starts it; `done` settles when it completes or fails. */
export async function startBackupJob(ctx: EngineContext, opts: CreateBackupOptions): Promise<{ backup_id: string; progress: ProgressTracker; done: Promise<BackupMetadata> }> {
  const config = ctx.config;
  const type = opts.backupType ?? 'full';
  if (!BACKUP_TYPES.includes(type)) throw new EngineError('INVALID', `Unknown backup type "${type}"; use one of ${BACKUP_TYPES.join(', ')}.`);
  if (type === 'continuous' && !opts.paths?.length) throw new EngineError('INVALID', 'A continuous backup watches directories: give one or more paths.');
  const level = opts.securityLevel ?? config.default_security_level;
  if (!opts.paths?.length && opts.payload === undefined) throw new EngineError('INVALID', 'Nothing to back up: give one or more paths or a data payload.');
  if (opts.priority !== undefined && (opts.priority < 1 || opts.priority > 10)) throw new EngineError('INVALID', 'priority must be between 1 and 10.');
  if (opts.retentionDays !== undefined && (!Number.isInteger(opts.retentionDays) || opts.retentionDays < 1)) throw new EngineError('INVALID', 'retention_days must be a whole number of days, at least 1.');
  const sources = opts.paths?.length ? await resolveSources(opts.paths) : undefined;
  if (sources) ctx.pool.startThreads(); // the walk runs on the scan thread (walk-thread.ts), the base's manifest is decoded on the others
  const payload = opts.payload !== undefined ? toPayload(opts.payload, opts.payloadName) : undefined;
  if (payload) checkPayloadName(payload.name); // refused before any row exists: such a backup could never be restored
  const cipher = cipherFor(level, config.enable_encryption);
  if (level === 'maximum') await refreshQuorum(ctx); // `keys quorum init` may have run in another process
  await ctx.keys.assertAvailable(level); // fails early for an unavailable level (e.g. government without an HSM, HIGH without its second factor)
  if (level === 'high' || level === 'maximum') await checkFactorAgainstRepository(ctx, level);
  if (level === 'government' && cipher === 'none') throw new EngineError('INVALID', 'Security level GOVERNMENT requires encryption; set enable_encryption to true or choose another level.');
  await assertCurrentMaster(ctx);

  const id = `backup_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const perType = type === 'full' ? config.full_backup_retention_days : type === 'snapshot' ? config.snapshot_retention_days : config.incremental_backup_retention_days;
  const retention = opts.retentionDays ?? perType ?? config.retention_days;
  const now = ctx.now();
  // Recorded as pending at once: the caller gets the id (the console shows "queued (position N)") while it waits.
  await ctx.db.insert(backups).values({
    id,
    status: 'pending',
    backupType: type,
    securityLevel: level,
    userId: opts.userId ?? null,
    tags: opts.tags ?? [],
    retentionDays: retention,
    priority: opts.priority ?? 5,
    metadata: { ...(opts.metadata ?? {}), host: hostname() },
    sources: sources ? sources.map((s) => s.abs) : [`payload:${payload!.name}`],
    ownerPid: process.pid,
    heartbeatAt: now,
  });
  const progress = new ProgressTracker(id, ctx.now);
  progress.phase = 'queued';
  progress.status = 'pending';
  const done = (async () => {
    try {
      await waitForSlot(ctx, id, (position) => (progress.queuePosition = position), opts.signal);
    } catch (err) {
      progress.phase = 'failed';
      progress.status = 'failed';
      await ctx.db.update(backups).set({ status: 'failed', error: (err as Error).message, completedAt: ctx.now(), ownerPid: null }).where(and(eq(backups.id, id), eq(backups.status, 'pending')));
      throw err;
    }
    progress.phase = 'scanning';
    progress.status = 'running';
    progress.queuePosition = null;
    const { baseRow, compareRow, dk } = await prepareRunning(ctx, id, type, level, cipher, sources, opts.actor ?? 'system', progress);
    const input = { sources, payload, detectChanges: type === 'snapshot', baseRow, compareRow, recordAtime: opts.recordAtime };
    return runBackup(ctx, id, level, dk, input, progress, opts.signal, baseRow || compareRow ? opts.actor ?? 'system' : undefined);
  })();
  done.catch(() => undefined);
  return { backup_id: id, progress, done };
}

/**
 * Once the backup holds a slot: its base (chosen now, so a backup of the same sources that completed while
 * this one waited is used), and its data key, recorded under the rotation lock and audited as a key use.
 * A failure here fails the row like any later one.
 */
async function prepareRunning(
  ctx: EngineContext,
  id: string,
  type: BackupType,
  level: SecurityLevel,
  cipher: ReturnType<typeof cipherFor>,
  sources: Awaited<ReturnType<typeof resolveSources>> | undefined,
  actor: string,
  progress: ProgressTracker,
): Promise<{ baseRow: BackupRow | null; compareRow: BackupRow | null; dk: { id: string; key: Buffer | null; cipher: ReturnType<typeof cipherFor> } }> {
  try {
    // Continuous backups are incremental against the last backup of the same sources.
    const incremental = type === 'incremental' || type === 'differential' || type === 'continuous';
    // An unattended MAXIMUM backup cannot read its base's manifest (that needs the quorum): it reads every file
    // again, and deduplication still stores only new data.
    const canReadBase = level !== 'maximum' || operationQuorum() !== undefined;
    const baseRow = sources && incremental && canReadBase ? await findBase(ctx, type, sources.map((s) => s.abs), level) : null;
    // A backup without a base still compares its files with the last one of the same sources (ransomware signals).
    const compareRow = sources && !baseRow && canReadBase ? await findBase(ctx, 'incremental', sources.map((s) => s.abs), level) : null;
    await assertCurrentMaster(ctx);
    const { key, wrapped } = await ctx.keys.newKey(level, cipher === 'none' ? 'aes-256-gcm' : cipher);
    await ctx.db.transaction(async (tx) => {
      // Under the row lock a rotation takes when it starts: a key wrapped by a replaced master is never recorded after it.
      const current = await tx.execute<{ mk: string | null }>(sql`SELECT value->>'master_key' AS mk FROM settings WHERE key = ${KEYS_SETTING} FOR SHARE`);
      const mk = current.rows[0]?.mk;
      if (level !== 'government' && mk && mk !== wrapped.kekId) throw rotatedElsewhere(mk, wrapped.kekId);
      await tx.insert(dataKeys).values({ id: wrapped.id, securityLevel: level, algorithm: wrapped.algorithm, wrappedKey: wrapped.wrapped, kekId: wrapped.kekId });
      await tx
        .update(backups)
        .set({ keyId: wrapped.id, ...(baseRow ? { metadata: sql`${backups.metadata} || ${JSON.stringify({ base_backup_id: baseRow.id })}::jsonb` } : {}) })
        .where(eq(backups.id, id));
    });
    await auditKeyUse(ctx.db, { actor, keyId: wrapped.id, purpose: 'backup', backupId: id, securityLevel: level });
    await refreshSpace(ctx); // placement skips a file system without room for a shard
    return { baseRow, compareRow, dk: { id: wrapped.id, key: cipher === 'none' ? null : key, cipher } };
  } catch (err) {
    progress.phase = 'failed';
    progress.status = 'failed';
    const message = err instanceof EngineError ? err.message : `Backup ${id} failed before it read any data: ${(err as Error).message}`;
    await ctx.db.update(backups).set({ status: 'failed', error: message, completedAt: ctx.now(), ownerPid: null }).where(eq(backups.id, id));
    throw err instanceof EngineError ? err : new EngineError('UNAVAILABLE', message, {}, { cause: err });
  }
}

/** Writes the data, the manifest and the snapshot, then marks the backup completed — or failed, loudly. */
async function runBackup(
  ctx: EngineContext,
  id: string,
  level: string,
  dk: { id: string; key: Buffer | null; cipher: ReturnType<typeof cipherFor> },
  input: Omit<BackupInput, 'base' | 'previous'> & { baseRow: BackupRow | null; compareRow: BackupRow | null },
  progress: ProgressTracker,
  signal?: AbortSignal,
  /** Set when an incremental reads its base, or a backup the previous one's manifest: whose key use that is (audited). */
  baseActor?: string,
): Promise<BackupMetadata> {
  const started = Date.now();
  const beat = setInterval(() => {
    void ctx.db.update(backups).set({ heartbeatAt: ctx.now(), progress: { ...progress.snapshot() } }).where(eq(backups.id, id)).catch(() => undefined);
  }, HEARTBEAT_MS);
  try {
    const [keyRow] = await ctx.db.select().from(dataKeys).where(eq(dataKeys.id, dk.id));
    const keyDoc = Buffer.from(JSON.stringify({ id: keyRow!.id, securityLevel: keyRow!.securityLevel, algorithm: keyRow!.algorithm, wrapped: keyRow!.wrappedKey, kekId: keyRow!.kekId }));
    await putReplicas(ctx, keyKey(dk.id), keyDoc, id, { want: ctx.config.replication_factor });
    if (input.baseRow && baseActor) {
      const b = input.baseRow;
      await auditKeyUse(ctx.db, { actor: baseActor, keyId: b.keyId, purpose: 'backup-base', backupId: b.id, securityLevel: b.securityLevel, details: { for_backup: id } });
    }
    const base = input.baseRow ? await loadBaseIndex(ctx, input.baseRow) : undefined;
    const previous = input.compareRow ? await loadPrevious(ctx, input.compareRow, baseActor ?? 'system', id) : undefined;
    const out = await writeBackupData(ctx, id, level, dk, dk.cipher, { ...input, base, previous }, progress, signal);
    // Deduplicated shards this backup reuses must stay locked as long as it lives (immutable locations).
    await extendBackupLocks(ctx, id, (msg) => ctx.log(`backup ${id}: ${msg}`));
    const [row] = await ctx.db.select().from(backups).where(eq(backups.id, id));
    const changes = out.changes ? await judgeChange(ctx, row!.sources, out.changes) : null;
    if (changes?.verdict.suspicious) ctx.log(`backup ${id}: suspicious change: ${changes.verdict.reasons.join('; ')}`);
    const seconds = (Date.now() - started) / 1000;
    const snapshot: SnapshotDoc = {
      backup_id: id,
      key_id: dk.id,
      security_level: level,
      files_shards: out.filesShards,
      chunks_shards: out.chunksShards,
      metadata: {
        ...toMetadata(row!),
        status: 'completed',
        original_size: out.originalSize,
        file_count: out.fileCount,
        stored_size: out.stats.referencedStoredBytes,
        new_bytes: out.stats.newStoredBytes,
        completed_at: ctx.now().toISOString(),
        expires_at: new Date(ctx.now().getTime() + row!.retentionDays * 86_400_000).toISOString(),
        suspicious: changes?.verdict.suspicious ?? false,
        change_summary: changes as unknown as Record<string, unknown> | null,
      },
    };
    const snap = encodeObject(sealSnapshot(ctx.idKey, snapshot), {
      label: snapshotLabel(id),
      keyId: dk.id,
      key: dk.key,
      cipher: dk.cipher,
      compression: 'zstd',
      level: 3,
    });
    // Snapshots go to every healthy location: any single surviving location can then list every backup.
    await putReplicas(ctx, snapshotKey(id), snap.stored, id, { want: ctx.config.replication_factor });
    const others = ctx.locations.enabled().filter((l) => ctx.locations.healthy(l));
    await Promise.all(others.map((l) => l.backend.stat(snapshotKey(id)).then((s) => (s ? null : putObject(ctx, l, snapshotKey(id), snap.stored, id))).catch(() => null)));
    const s = out.stats;
    const completedAt = ctx.now();
    progress.phase = 'done';
    progress.status = 'completed';
    await ctx.db
      .update(backups)
      .set({
        status: 'completed',
        metadata: {
          ...row!.metadata,
          files_reused: out.filesReused,
          ...(out.changedWhileRead.length ? { changed_while_read: out.changedWhileRead.slice(0, 1000) } : {}),
          ...(out.skipped.length ? { skipped: out.skipped.slice(0, 1000) } : {}),
        },
        manifestShards: { files: out.filesShards, chunks: out.chunksShards },
        changeSummary: changes as unknown as Record<string, unknown> | null,
        suspicious: changes?.verdict.suspicious ?? false,
        originalSize: out.originalSize,
        storedSize: s.referencedStoredBytes,
        newBytes: s.newStoredBytes,
        fileCount: out.fileCount,
        shardCount: out.shardCount,
        newShardCount: s.newShards,
        compressionRatio: s.newStoredBytes > 0 ? round(s.newPlainBytes / s.newStoredBytes) : 1,
        // Share of this backup's data that was already stored (0 = all new, 1 = all deduplicated).
        dedupRatio: out.originalSize > 0 ? round(Math.max(0, 1 - dataNewPlain(s, out) / out.originalSize)) : 0,
        durationMs: Math.round(seconds * 1000),
        throughputMbps: round(out.originalSize / 1048576 / Math.max(seconds, 0.001)),
        progress: { ...progress.snapshot() },
        completedAt,
        expiresAt: new Date(completedAt.getTime() + row!.retentionDays * 86_400_000),
        ownerPid: null,
      })
      .where(and(eq(backups.id, id), eq(backups.status, 'running')))
      .returning({ id: backups.id })
      .then((done) => {
        // Reaped while it ran (no heartbeat for 20 s: a stalled machine or catalog): its references are gone.
        if (!done.length) throw new EngineError('CONFLICT', `Backup ${id} was marked interrupted while it was still running (its heartbeat stalled for more than 20 s). It is not listed as completed; run the backup again.`);
      });
    return toMetadata((await getBackupRow(ctx.db, id))!);
  } catch (err) {
    progress.phase = 'failed';
    progress.status = 'failed';
    const message = err instanceof EngineError ? err.message : `Backup ${id} failed: ${(err as Error).message}`;
    ctx.log(message);
    await ctx.db.transaction(async (tx) => {
      await tx.update(backups).set({ status: 'failed', error: message, progress: { ...progress.snapshot() }, completedAt: ctx.now(), ownerPid: null }).where(eq(backups.id, id));
      // The shards it recorded stay, unreferenced: a later backup may reuse them through dedup, and storage gc
      // deletes those still unreferenced after its grace period (gc-shards.ts).
      await tx.execute(sql`DELETE FROM backup_shards WHERE backup_id = ${id}`);
    });
    // A snapshot already written must not let recover-catalog bring a failed backup back as completed.
    // Where it is locked (immutability) it stays until its lock ends, recorded for deletion then.
    await Promise.all(ctx.locations.enabled().map((l) => removeObject(ctx, l, snapshotKey(id), `backup ${id} failed`).catch(() => undefined)));
    throw err instanceof EngineError ? err : new EngineError('UNAVAILABLE', message, {}, { cause: err });
  } finally {
    clearInterval(beat);
  }
}

function toPayload(data: unknown, name?: string): { name: string; data: Buffer } {
  if (typeof data === 'string') return { name: name ?? 'payload.txt', data: Buffer.from(data, 'utf8') };
  if (data instanceof Uint8Array) return { name: name ?? 'payload.bin', data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) };
  return { name: name ?? 'payload.json', data: Buffer.from(JSON.stringify(data)) };
}

const round = (n: number) => Math.round(n * 1000) / 1000;

/** New plaintext bytes of file data (manifest shards excluded), bounded by the data size. */
function dataNewPlain(s: { newPlainBytes: number; newManifestPlainBytes: number }, out: { originalSize: number }): number {
  return Math.min(s.newPlainBytes - s.newManifestPlainBytes, out.originalSize);
}

/** A mistyped second factor is refused before anything is written under it: it must open the level's newest v2 key. */
async function checkFactorAgainstRepository(ctx: EngineContext, level: 'high' | 'maximum'): Promise<void> {
  const rows = await ctx.db.execute<{ id: string }>(sql`SELECT id FROM data_keys WHERE security_level = ${level} AND wrapped_key LIKE 'v2.%' AND kek_id = ${ctx.keys.masterId} ORDER BY created_at DESC LIMIT 1`);
  const id = rows.rows[0]?.id;
  if (!id) return;
  const [row] = await ctx.db.select().from(dataKeys).where(eq(dataKeys.id, id));
  if (row) await ctx.keys.checkSecondFactor(wrappedFromRow(row));
}
