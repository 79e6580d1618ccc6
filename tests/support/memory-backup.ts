/**
 * Backups written by hand on a memory repository (memory-repo.ts), for unit tests of the read side (restore,
 * verify) with no database: data shards through a ShardWriter, then the file list and chunk table.
 */
import { ChunkSink, ShardWriter } from '../../server/engine/backup/chunk-sink';
import type { BackupRow } from '../../server/engine/catalog/catalog';
import { contentIdKey } from '../../server/engine/keys/keys';
import { shardKey } from '../../server/engine/repository/repository';
import type { MemoryRepo } from './memory-repo';

/** A writer for a backup; `key`: encrypt with this data key (aes-256-gcm), else store plaintext. */
export const memoryWriter = (r: MemoryRepo, backupId = 'b1', key?: { keyId: string; key: Buffer }) =>
  new ShardWriter(r.ctx, backupId, 'standard', contentIdKey(r.ctx.idKey, 'standard'), key?.keyId ?? '', key?.key ?? null, key ? 'aes-256-gcm' : 'none');

/**
 * A backup of `files` (one chunk each): its data shards, file list and chunk table. `extraChunks`: shard ids
 * appended to the chunk table that nothing was written for (a manifest naming a shard the index lacks); `key`:
 * encrypt every shard with this data key.
 */
export async function memoryBackup(r: MemoryRepo, files: Record<string, Buffer>, opts: { id?: string; extraChunks?: string[]; key?: { keyId: string; key: Buffer } } = {}): Promise<{ row: BackupRow; shardOf: Record<string, string> }> {
  const id = opts.id ?? 'b1';
  const w = memoryWriter(r, id, opts.key);
  const size = { avgSize: 1 << 20, minSize: 1 << 18, maxSize: 1 << 22 };
  const table: string[] = [];
  const lines: string[] = [];
  const shardOf: Record<string, string> = {};
  for (const [p, data] of Object.entries(files)) {
    const s = await (await w.add(Buffer.from(data), 'data')).shard;
    shardOf[p] = s.id;
    lines.push(JSON.stringify({ p, t: 'f', m: 0o644, mt: 1_700_000_000_000, s: data.length, x: [[table.length, 0, data.length]] }));
    table.push(s.id);
  }
  for (const extra of opts.extraChunks ?? []) table.push(extra);
  const stream = async (text: string) => {
    const sink = new ChunkSink(w, 'manifest', 'cdc', size);
    await sink.write(Buffer.from(text));
    await sink.end();
    return sink.shardIds();
  };
  const filesShards = await stream(`${lines.join('\n')}\n`);
  const chunksShards = await stream(`${JSON.stringify(table)}\n`);
  await w.drain();
  // No sources: repair cannot re-read a lost shard's content from the files it was backed up from.
  const row = { id, securityLevel: 'standard', sources: [] as string[], manifestShards: { files: filesShards, chunks: chunksShards } } as BackupRow;
  return { row, shardOf };
}

/** Flips one byte in the middle of the object at a location (damage the checksum catches). */
export async function damageReplica(r: MemoryRepo, location: string, shardId: string): Promise<void> {
  const b = r.backends.get(location)!;
  const bytes = await b.get(shardKey(shardId));
  bytes[bytes.length >> 1]! ^= 0xff;
  await b.put(shardKey(shardId), bytes);
}

/** Each replica's state in the index, by location. */
export const replicaStates = async (r: MemoryRepo, id: string) => Object.fromEntries((await r.index.records([id])).get(id)!.replicas.map((x) => [x.location, x.state]));
