/**
 * Emergency recovery: rebuilds the catalog from the repositories alone (the database was lost). Keys come
 * from keys/, shards from data/ (each object's header names its key; its trailer is its checksum),
 * backups from snapshots/ (decrypted with their data keys), and each backup's references from its manifest.
 * Idempotent: rows that already exist are left as they are, so it can also merge a location back in.
 */
import { sql } from 'drizzle-orm';
import { backups, dataKeys } from '../../db/schema';
import { readHeader, storedChecksum } from './codec';
import type { EngineContext } from './context';
import type { WrappedKey } from './keys';
import { snapshotLabel, type SnapshotDoc } from './repository';
import { ADOPTED_KEY } from './setup';
import { ShardReader } from './shard-reader';
import type { SecurityLevel } from './types';
import { readChunkTable } from './chunk-table';

export interface RecoverReport {
  keys: number;
  shards: number;
  damaged_objects: string[];
  backups: number;
  skipped_backups: { backup_id: string; reason: string }[];
}

export async function rebuildCatalog(ctx: EngineContext): Promise<RecoverReport> {
  const report: RecoverReport = { keys: 0, shards: 0, damaged_objects: [], backups: 0, skipped_backups: [] };
  const locs = ctx.locations.enabled().filter((l) => ctx.locations.healthy(l));

  // 1. Data keys.
  const keys = new Map<string, WrappedKey>();
  for (const loc of locs) {
    for await (const o of loc.backend.list('keys/')) {
      try {
        const w = JSON.parse((await loc.backend.get(o.key)).toString('utf8')) as WrappedKey;
        if (!keys.has(w.id)) keys.set(w.id, w);
      } catch (err) {
        report.damaged_objects.push(`${loc.name}:${o.key} (${(err as Error).message})`);
      }
    }
  }
  const keyBytes = new Map<string, Buffer>();
  for (const w of keys.values()) {
    keyBytes.set(w.id, await ctx.keys.unwrap(w)); // throws a clear error when the master key is wrong
    const inserted = await ctx.db
      .insert(dataKeys)
      .values({ id: w.id, securityLevel: w.securityLevel, algorithm: w.algorithm, wrappedKey: w.wrapped, kekId: w.kekId })
      .onConflictDoNothing()
      .returning({ id: dataKeys.id });
    report.keys += inserted.length;
  }

  // 2. Shards and where their replicas are.
  const replicas = new Map<string, string[]>();
  for (const loc of locs) {
    for await (const o of loc.backend.list('data/')) {
      const id = o.key.slice(o.key.lastIndexOf('/') + 1);
      replicas.set(id, [...(replicas.get(id) ?? []), loc.name]);
    }
  }
  for (const [id, where] of replicas) {
    let recorded = false;
    for (const name of where) {
      const loc = ctx.locations.get(name)!;
      try {
        const stored = await loc.backend.get(`data/${id.slice(0, 2)}/${id}`);
        const checksum = storedChecksum(stored);
        if (!checksum) {
          report.damaged_objects.push(`${name}:${id} (checksum mismatch)`);
          continue;
        }
        const h = readHeader(stored);
        const key = keyBytes.get(h.keyId);
        const contentId = id.split('-')[0]!;
        const plain = await ctx.pool.decode(stored, contentId, key ? { [h.keyId]: key } : {});
        const res = await ctx.db.execute(sql`
          INSERT INTO shards (id, content_id, security_level, key_id, plain_size, stored_size, checksum, compression, kind)
          VALUES (${id}, ${contentId}, ${keys.get(h.keyId)?.securityLevel ?? 'standard'}, ${h.keyId}, ${plain.length}, ${stored.length}, ${checksum}, ${h.compression}, 'data')
          ON CONFLICT (id) DO NOTHING RETURNING id`);
        report.shards += res.rows.length;
        recorded = true;
        break;
      } catch (err) {
        report.damaged_objects.push(`${name}:${id} (${(err as Error).message})`);
      }
    }
    if (!recorded) continue;
    for (const name of where) {
      await ctx.db.execute(sql`INSERT INTO shard_replicas (shard_id, location, state) VALUES (${id}, ${name}, 'ok') ON CONFLICT DO NOTHING`);
    }
  }

  // 3. Backups, from their snapshots, and what each references.
  const snapshots = new Map<string, string>();
  for (const loc of locs) for await (const o of loc.backend.list('snapshots/')) if (!snapshots.has(o.key)) snapshots.set(o.key, loc.name);
  for (const [key, name] of snapshots) {
    const backupId = key.slice('snapshots/'.length);
    try {
      const stored = await ctx.locations.get(name)!.backend.get(key);
      const h = readHeader(stored);
      const k = keyBytes.get(h.keyId);
      const doc = JSON.parse((await ctx.pool.decode(stored, snapshotLabel(backupId), k ? { [h.keyId]: k } : {})).toString('utf8')) as SnapshotDoc;
      const reader = new ShardReader(ctx, doc.security_level as SecurityLevel);
      await reader.load([...doc.files_shards, ...doc.chunks_shards]);
      const chunkIds = await readChunkTable(reader.lines(doc.chunks_shards));
      const refs = [...new Set([...doc.files_shards, ...doc.chunks_shards, ...chunkIds])];
      const m = doc.metadata as Record<string, unknown>;
      const num = (v: unknown) => (typeof v === 'number' ? v : 0);
      const date = (v: unknown) => (typeof v === 'string' ? new Date(v) : null);
      const inserted = await ctx.db
        .insert(backups)
        .values({
          id: backupId,
          status: 'completed',
          backupType: String(m.backup_type ?? 'full'),
          securityLevel: doc.security_level,
          userId: (m.user_id as string | null) ?? null,
          tags: (m.tags as string[]) ?? [],
          retentionDays: num(m.retention_days) || 90,
          priority: num(m.priority) || 5,
          metadata: { ...((m.metadata as Record<string, unknown>) ?? {}), recovered_from_storage: true },
          sources: (m.sources as string[]) ?? [],
          keyId: doc.key_id,
          manifestShards: { files: doc.files_shards, chunks: doc.chunks_shards },
          originalSize: num(m.original_size),
          storedSize: num(m.stored_size),
          newBytes: num(m.new_bytes),
          fileCount: num(m.file_count),
          shardCount: refs.length,
          createdAt: date(m.created_at) ?? ctx.now(),
          startedAt: date(m.started_at),
          completedAt: date(m.completed_at) ?? ctx.now(),
          expiresAt: date(m.expires_at),
        })
        .onConflictDoNothing()
        .returning({ id: backups.id });
      if (!inserted.length) continue;
      for (let i = 0; i < refs.length; i += 500) {
        const part = sql.join(refs.slice(i, i + 500).map((r) => sql`(${backupId}, ${r})`), sql`, `);
        await ctx.db.execute(sql`INSERT INTO backup_shards (backup_id, shard_id) VALUES ${part} ON CONFLICT DO NOTHING`);
      }
      await ctx.db.execute(sql`UPDATE shards SET kind = 'manifest' WHERE id IN (${sql.join([...doc.files_shards, ...doc.chunks_shards].map((r) => sql`${r}`), sql`, `)})`);
      report.backups++;
    } catch (err) {
      report.skipped_backups.push({ backup_id: backupId, reason: (err as Error).message });
    }
  }
  // Every enabled location was read: the catalog now knows what storage holds, and storage gc may run.
  if (locs.length === ctx.locations.enabled().length) await ctx.db.execute(sql`DELETE FROM settings WHERE key = ${ADOPTED_KEY}`);
  return report;
}
