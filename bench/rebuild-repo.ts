/**
 * Writes a synthetic but valid repository for the recover-catalog benchmark (bench/rebuild.ts), through the
 * engine's own pieces: the repository config and id key from `openRepository`, data keys from the KeyRing
 * (wrapped under the master key), content ids from `contentIdKey`/`contentId`, objects from `encodeObject`,
 * names from `shardKey`/`snapshotKey`/`keyKey`, manifests cut by the engine's `Chunker` at `shard_size`,
 * snapshots sealed with `sealSnapshot`. So recover-catalog accepts everything (with --read-data too).
 *
 * What is small: each data shard's plaintext (PAYLOAD_MIN–PAYLOAD_MAX random bytes instead of ~1 MiB), so
 * 100,000 shards are ~0.3 GiB of objects (~0.85 GiB on disk) instead of 200 GiB. What is real: the number of objects on every
 * location (replication_factor copies of each shard, key and manifest shard; a snapshot on every location),
 * the manifests (entries with extents into the chunk table, FILES_PER_SHARD files per data shard, chunked at
 * shard_size as a backup writes them) and the chunk tables (lines of 1000 shard ids).
 *
 * Objects are written with plain writeFile (no fsync, no temp file): the layout is the local backend's, and
 * only the rebuild is measured. Run as a child process with the installation's environment
 * (PLEXICHAT_DATA_DIR, PLEXICHAT_BACKUP_ROOT, PLEXICHAT_CONFIG, PLEXICHAT_ENCRYPTION_KEY):
 *
 *   node --import tsx bench/rebuild-repo.ts <shards> <shards per backup>
 *
 * It prints one JSON line: {backups, data_shards, manifest_shards, objects, bytes}.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { openCatalog } from '../db/client';
import { loadConfig } from '../server/config';
import { Chunker } from '../server/engine/backup/chunker';
import { encodeObject } from '../server/engine/repository/codec';
import { cipherFor, contentId, contentIdKey, loadMasterKey } from '../server/engine/keys/keys';
import type { ManifestEntry } from '../server/engine/repository/manifest';
import { sealSnapshot } from '../server/engine/repository/repo-trust';
import { keyKey, shardKey, snapshotKey, snapshotLabel, type SnapshotDoc } from '../server/engine/repository/repository';
import { openLocations, openRepository } from '../server/engine/setup';

export const GENERATOR_VERSION = 1;
export const PAYLOAD_MIN = 512;
export const PAYLOAD_MAX = 2048;
export const FILES_PER_SHARD = 4;
const IDS_PER_LINE = 1000;
const WRITE_CONCURRENCY = 32;

export interface GeneratedRepo {
  backups: number;
  data_shards: number;
  manifest_shards: number;
  /** Objects on disk, all locations (config.json excluded). */
  objects: number;
  bytes: number;
}

async function main(): Promise<void> {
  const total = Number(process.argv[2]);
  const perBackup = Number(process.argv[3]);
  if (!Number.isInteger(total) || total < 1 || !Number.isInteger(perBackup) || perBackup < 1) throw new Error('usage: rebuild-repo.ts <shards> <shards per backup>');
  const config = loadConfig(process.env);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const catalog = await openCatalog({ dataDir: config.data_dir });
  try {
    const master = loadMasterKey(config.master_key_source, log);
    const locations = await openLocations(config, catalog.db, log, master);
    const { keys, idKey } = await openRepository(catalog.db, locations, master, log, null, [], { encrypted: config.enable_encryption });
    const roots = locations.enabled().map((l) => {
      if (l.config.type !== 'local' || !l.config.path) throw new Error(`location ${l.name} is not local`);
      return l.config.path;
    });
    const R = config.replication_factor;
    const level = config.default_security_level;
    const cipher = cipherFor(level, config.enable_encryption);
    const levelKey = contentIdKey(idKey, level);
    const compression = config.enable_compression ? config.compression_algorithm : 'none';
    const out: GeneratedRepo = { backups: 0, data_shards: 0, manifest_shards: 0, objects: 0, bytes: 0 };

    const dirs = new Set<string>();
    const pending = new Set<Promise<void>>();
    const put = async (root: string, key: string, data: Buffer) => {
      const file = path.join(root, ...key.split('/'));
      const dir = path.dirname(file);
      if (!dirs.has(dir)) {
        await mkdir(dir, { recursive: true });
        dirs.add(dir);
      }
      const p = writeFile(file, data, { mode: 0o600 }).finally(() => pending.delete(p));
      pending.add(p);
      out.objects++;
      out.bytes += data.length;
      while (pending.size >= WRITE_CONCURRENCY) await Promise.race(pending);
    };
    // Copies go to R of the locations, the first one rotating (as placement spreads them).
    let turn = 0;
    const putReplicated = async (key: string, data: Buffer) => {
      for (let i = 0; i < R; i++) await put(roots[(turn + i) % roots.length]!, key, data);
      turn++;
    };

    const t0 = Date.parse('2025-01-01T02:00:00Z');
    for (let b = 0, made = 0; made < total; b++) {
      const n = Math.min(perBackup, total - made);
      const createdAt = new Date(t0 + b * 86_400_000);
      const backupId = `backup_${createdAt.getTime()}_${randomBytes(3).toString('hex')}`;
      const { key, wrapped } = await keys.newKey(level, cipher === 'none' ? 'aes-256-gcm' : cipher);
      const dataKey = cipher === 'none' ? null : key;
      const keyDoc = { id: wrapped.id, securityLevel: wrapped.securityLevel, algorithm: wrapped.algorithm, wrapped: wrapped.wrapped, kekId: wrapped.kekId };
      await putReplicated(keyKey(wrapped.id), Buffer.from(JSON.stringify(keyDoc)));

      const store = async (plain: Buffer): Promise<{ id: string; stored: number }> => {
        const cid = contentId(levelKey, plain);
        const id = `${cid}-${randomBytes(6).toString('hex')}`;
        const enc = encodeObject(plain, { label: cid, keyId: wrapped.id, key: dataKey, cipher, compression, level: config.compression_level });
        await putReplicated(shardKey(id), enc.stored);
        return { id, stored: enc.stored.length };
      };

      // Data: n shards, FILES_PER_SHARD files packed in each (extents into the chunk table), one directory.
      const chunkIds: string[] = [];
      const entries: string[] = [];
      const dir = `host-${b % 7}/day-${b}`;
      entries.push(JSON.stringify({ p: dir, t: 'd', m: 0o755, mt: createdAt.getTime(), mtn: 0, u: 0, g: 0 } satisfies ManifestEntry));
      let original = 0;
      let stored = 0;
      for (let i = 0; i < n; i++) {
        const size = PAYLOAD_MIN + Math.floor(Math.random() * (PAYLOAD_MAX - PAYLOAD_MIN + 1));
        const plain = randomBytes(size);
        const s = await store(plain);
        chunkIds.push(s.id);
        original += size;
        stored += s.stored;
        const part = Math.floor(size / FILES_PER_SHARD);
        for (let f = 0, off = 0; f < FILES_PER_SHARD; f++) {
          const len = f === FILES_PER_SHARD - 1 ? size - off : part;
          const mt = createdAt.getTime() - (i * FILES_PER_SHARD + f) * 1000;
          const e: ManifestEntry = { p: `${dir}/d${Math.floor(i / 250)}/f${i}-${f}.dat`, t: 'f', m: 0o644, mt, mtn: 123_456, at: mt, atn: 0, s: len, x: [[i, off, len]], i: 1_000_000 + b * perBackup * FILES_PER_SHARD + i * FILES_PER_SHARD + f, ct: mt, ctn: 0, u: 1000, g: 1000 };
          entries.push(JSON.stringify(e));
          off += len;
        }
      }
      const manifest = async (text: string): Promise<string[]> => {
        const chunks: Buffer[] = [];
        const chunker = new Chunker({ mode: 'cdc', avgSize: config.shard_size });
        chunker.push(Buffer.from(text), (c) => chunks.push(Buffer.from(c)));
        chunker.flush((c) => chunks.push(Buffer.from(c)));
        const ids: string[] = [];
        for (const c of chunks) {
          const s = await store(c);
          ids.push(s.id);
          stored += s.stored;
        }
        out.manifest_shards += ids.length;
        return ids;
      };
      const filesShards = await manifest(`${entries.join('\n')}\n`);
      let table = '';
      for (let i = 0; i < chunkIds.length; i += IDS_PER_LINE) table += `${JSON.stringify(chunkIds.slice(i, i + IDS_PER_LINE))}\n`;
      const chunksShards = await manifest(table);

      const completedAt = new Date(createdAt.getTime() + 600_000);
      const doc: SnapshotDoc = {
        backup_id: backupId,
        key_id: wrapped.id,
        security_level: level,
        files_shards: filesShards,
        chunks_shards: chunksShards,
        metadata: {
          backup_id: backupId,
          status: 'completed',
          backup_type: 'full',
          security_level: level,
          tags: ['bench-rebuild'],
          retention_days: 3650,
          priority: 5,
          sources: [`/srv/${dir}`],
          original_size: original,
          file_count: n * FILES_PER_SHARD,
          stored_size: stored,
          new_bytes: stored,
          created_at: createdAt.toISOString(),
          started_at: createdAt.toISOString(),
          completed_at: completedAt.toISOString(),
          expires_at: new Date(completedAt.getTime() + 3650 * 86_400_000).toISOString(),
        },
      };
      const snap = encodeObject(sealSnapshot(idKey, doc), { label: snapshotLabel(backupId), keyId: wrapped.id, key: dataKey, cipher, compression: 'zstd', level: 3 });
      for (const root of roots) await put(root, snapshotKey(backupId), snap.stored);
      out.backups++;
      out.data_shards += n;
      made += n;
    }
    await Promise.all(pending);
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    await catalog.close();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  process.exitCode = await main().then(
    () => 0,
    (err: unknown) => {
      process.stderr.write(`rebuild-repo failed: ${(err as Error).stack ?? String(err)}\n`);
      return 1;
    },
  );
}
