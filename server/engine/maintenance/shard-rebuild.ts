/**
 * repair_missing_shards: re-creates a shard that has no readable replica left, under its own name, so the
 * manifests that name it work again. Two sources, tried in this order:
 *
 * 1. another shard with the same content id (a later backup stored the same bytes under another name —
 *    shard id = `<content id>-<random>`): a copy that passes its checksum (or, unverified, its full content
 *    check) is written as is. The object's AEAD label is the content id, not the name, so it opens under
 *    either name; the lost shard's catalog row takes that copy's checksum, key, size and compression;
 * 2. the backup's source files, if they still hold the content: every extent of the chunk is read from the
 *    source path at the extent's position, and the bytes are used only when their keyed content id equals
 *    the shard's (then encoded under the shard's data key, like a backup would).
 *
 * Never trusts anything it cannot prove: a candidate that fails a check is skipped.
 */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { readHeader, storedChecksum } from '../repository/codec';
import type { BackupRow, ShardRecord } from '../catalog/catalog';
import { readChunkTable } from '../repository/chunk-table';
import { UNVERIFIED } from '../repository/content-check';
import type { EngineContext } from '../context';
import { cipherFor, contentId, contentIdKey } from '../keys/keys';
import { parseEntry } from '../repository/manifest';
import { shardKey } from '../repository/repository';
import type { ShardReader } from '../restore/shard-reader';
import { markReplica, putReplicas } from '../repository/shard-store';
import type { ObjectMeta } from '../repository/shard-index';
import { writePieces } from './verify-pieces';
import { resolveSources } from '../backup/source';
import type { SecurityLevel } from '../types';

export interface Recreated {
  shard_id: string;
  from: 'shard' | 'source';
  locations: string[];
}

type Piece = { path: string; filePos: number; off: number; len: number };

/** Re-creates what it can of `lost` (shard ids of this backup); returns the shards it re-created. */
export async function recreateLostShards(ctx: EngineContext, row: BackupRow, reader: ShardReader, lost: string[]): Promise<Recreated[]> {
  if (!lost.length) return [];
  const level = row.securityLevel as SecurityLevel;
  const records = await ctx.index.records(lost);
  const out: Recreated[] = [];
  const left: ShardRecord[] = [];
  for (const id of lost) {
    const rec = records.get(id);
    if (!rec) continue; // no catalog row: nothing says what it held
    const copy = await fromOtherShard(ctx, reader, rec).catch(() => null);
    if (copy) out.push({ shard_id: id, from: 'shard', locations: await store(ctx, row, rec, copy.stored, copy) });
    else left.push(rec);
  }
  if (!left.length) return out;
  const pieces = await piecesOf(reader, row, new Set(left.map((r) => r.id))).catch(() => null);
  const resolve = await sourceResolver(row.sources);
  if (!pieces || !resolve) return out;
  for (const rec of left) {
    try {
      const plain = await readFromSource(pieces.get(rec.id) ?? [], rec.plainSize, resolve);
      if (!plain || contentId(contentIdKey(ctx.idKey, level), plain) !== rec.contentId) continue;
      const key = rec.keyId ? await reader.key(rec.keyId) : null;
      const cipher = cipherFor(level, ctx.config.enable_encryption);
      if (cipher !== 'none' && !key) continue;
      const enc = await ctx.pool.encode(plain, {
        label: rec.contentId,
        keyId: rec.keyId,
        key: cipher === 'none' ? null : key,
        cipher,
        compression: ctx.config.enable_compression ? ctx.config.compression_algorithm : 'none',
        level: ctx.config.compression_level,
        byClass: ctx.config.compression_config,
      });
      const meta = { checksum: enc.checksum, keyId: rec.keyId, compression: enc.compression, storedSize: enc.stored.length, encrypted: cipher !== 'none' };
      out.push({ shard_id: rec.id, from: 'source', locations: await store(ctx, row, rec, enc.stored, meta) });
    } catch (err) {
      ctx.log(`could not re-create shard ${rec.id} from the source: ${(err as Error).message}`);
    }
  }
  return out;
}

type Meta = ObjectMeta;

async function fromOtherShard(ctx: EngineContext, reader: ShardReader, rec: ShardRecord): Promise<(Meta & { stored: Buffer }) | null> {
  for (const other of await ctx.index.sameContent(rec.contentId, rec.id)) {
    for (const rep of other.replicas) {
      const loc = ctx.locations.get(rep.location);
      if (!loc) continue;
      try {
        const stored = Buffer.from(await loc.backend.get(shardKey(other.id)));
        if (other.checksum === UNVERIFIED) {
          const c = await reader.check(other.id, Buffer.from(stored)); // check() hands its buffer to a worker
          if (c.plainSize !== rec.plainSize) continue;
          return { stored, checksum: c.checksum, keyId: c.keyId, compression: c.compression, storedSize: stored.length, encrypted: readHeader(stored).cipher !== 'none' };
        }
        if (storedChecksum(stored) !== other.checksum || other.plainSize !== rec.plainSize) continue;
        // Prove it opens under our rules (level, keys) before writing it under the lost name.
        await reader.check(other.id, Buffer.from(stored));
        return { stored, checksum: other.checksum, keyId: other.keyId, compression: other.compression, storedSize: stored.length, encrypted: readHeader(stored).cipher !== 'none' };
      } catch {
        // not a usable copy
      }
    }
  }
  return null;
}

/** Writes the object at the lost shard's recorded locations (then more, up to the factor) and updates its row. */
async function store(ctx: EngineContext, row: BackupRow, rec: ShardRecord, stored: Buffer, meta: Meta): Promise<string[]> {
  await ctx.index.replaceObject(rec.id, meta);
  if (rec.coding) {
    // Every piece anew, each where its row says (or elsewhere when that location is gone).
    const at = new Map(rec.replicas.map((r) => [r.piece, r.location]));
    const which = Array.from({ length: rec.coding.k + rec.coding.m }, (_, piece) => ({ piece, location: at.get(piece) ?? null }));
    return (await writePieces(ctx, rec, stored, row.id, which).catch(() => [])).map((p) => p.location);
  }
  const written: string[] = [];
  for (const rep of rec.replicas) {
    const loc = ctx.locations.get(rep.location);
    if (!loc || !loc.config.enabled) continue;
    try {
      await loc.backend.put(shardKey(rec.id), stored);
      await markReplica(ctx, rec.id, rep.location, 'ok');
      written.push(rep.location);
    } catch (err) {
      ctx.log(`re-creating ${rec.id} at ${rep.location} failed: ${(err as Error).message}`);
    }
  }
  if (written.length < ctx.config.replication_factor) {
    const added = await putReplicas(ctx, shardKey(rec.id), stored, row.id, {
      exclude: new Set(rec.replicas.map((r) => r.location)),
      want: ctx.config.replication_factor - written.length,
    }).catch(() => []);
    for (const loc of added) {
      await ctx.index.addReplica(rec.id, loc.name, ctx.now());
      written.push(loc.name);
    }
  }
  return written;
}

/** For each wanted shard: the file extents that lie in it (position in the file, offset in the chunk). */
async function piecesOf(reader: ShardReader, row: BackupRow, wanted: Set<string>): Promise<Map<string, Piece[]>> {
  const { files, chunks } = row.manifestShards;
  await reader.load([...files, ...chunks]);
  const chunkIds = await readChunkTable(reader.lines(chunks));
  const out = new Map<string, Piece[]>();
  for await (const line of reader.lines(files)) {
    const e = parseEntry(line);
    if (e.t !== 'f' || e.h) continue; // a hard link repeats its first path's extents
    let filePos = 0;
    for (const [k, off, len] of e.x ?? []) {
      const id = chunkIds[k];
      if (id !== undefined && wanted.has(id)) {
        const list = out.get(id) ?? [];
        list.push({ path: e.p, filePos, off, len });
        out.set(id, list);
      }
      filePos += len;
    }
  }
  return out;
}

/** Maps a path inside the backup to the source path it was read from (null: not from a source we can find). */
async function sourceResolver(sources: string[]): Promise<((p: string) => string | null) | null> {
  if (!sources.length || sources.some((s) => s.startsWith('payload:'))) return null;
  let resolved: { abs: string; rel: string }[];
  try {
    resolved = await resolveSources(sources);
  } catch {
    return null; // a source is gone (its names would shift): do not guess
  }
  return (p) => {
    for (const s of resolved) {
      if (s.rel === '') return path.join(s.abs, ...p.split('/'));
      if (p === s.rel) return s.abs;
      if (p.startsWith(`${s.rel}/`)) return path.join(s.abs, ...p.slice(s.rel.length + 1).split('/'));
    }
    return null;
  };
}

async function readFromSource(pieces: Piece[], size: number, resolve: (p: string) => string | null): Promise<Buffer | null> {
  const buf = Buffer.alloc(size);
  let covered = 0;
  const seen = new Set<number>();
  for (const pc of pieces) {
    if (seen.has(pc.off)) continue;
    seen.add(pc.off);
    const abs = resolve(pc.path);
    if (!abs || pc.off + pc.len > size) return null;
    const fh = await open(abs, 'r').catch(() => null);
    if (!fh) return null;
    try {
      const { bytesRead } = await fh.read(buf, pc.off, pc.len, pc.filePos);
      if (bytesRead !== pc.len) return null;
    } finally {
      await fh.close();
    }
    covered += pc.len;
  }
  return covered === size ? buf : null;
}
