/**
 * Verify with no database: verifyBackup over a MemoryShardIndex and memory locations (memory-repo.ts), the
 * contract the integration tests (engine-damage) hold the catalog to. A clean backup is healthy; a damaged or
 * vanished replica is named, marked in the index, and the backup is degraded (still restorable from the other
 * copy); a shard with no good copy makes it corrupted, naming the shard and the files in it.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyBackup } from '../../server/engine/maintenance/verify';
import { shardKey } from '../../server/engine/repository/repository';
import { damageReplica, memoryBackup, memoryWriter, replicaStates } from '../support/memory-backup';
import { type MemoryRepo, memoryRepo } from '../support/memory-repo';

let repo: MemoryRepo | null = null;
afterEach(async () => {
  await repo?.close();
  repo = null;
});

const plainRepo = () => memoryRepo({ config: { enable_encryption: false } });
const files = () => ({ 'one.bin': randomBytes(5000), 'two.bin': randomBytes(7000), 'three.bin': randomBytes(3000) });

describe('verify on a memory index', () => {
  it('a clean backup is healthy, every shard and replica checked, with and without read-data', async () => {
    repo = plainRepo();
    const { row } = await memoryBackup(repo, files());
    const shards = (await repo.index.backupRecords('b1')).length;
    expect(shards).toBe(3 + row.manifestShards.files.length + row.manifestShards.chunks.length);
    for (const readData of [false, true]) {
      const v = await verifyBackup(repo.ctx, row, readData);
      expect(v).toMatchObject({ backup_id: 'b1', status: 'healthy', all_shards_valid: true, shards_checked: shards, replicas_checked: 2 * shards, read_data: readData, bad_shards: [], lost_shards: [], affected_files: [] });
    }
  });

  it('a damaged replica is named and marked bad; the backup is degraded, and healthy again once the copy is good', async () => {
    repo = plainRepo();
    const { row, shardOf } = await memoryBackup(repo, files());
    const id = shardOf['two.bin']!;
    const good = Buffer.from(await repo.backends.get('a')!.get(shardKey(id)));
    await damageReplica(repo, 'a', id);
    const v = await verifyBackup(repo.ctx, row, false);
    expect(v.status).toBe('degraded');
    expect(v.all_shards_valid).toBe(false);
    expect(v.bad_shards).toEqual([{ shard_id: id, location: 'a', problem: 'checksum_mismatch', message: `Shard checksum mismatch for ${id} at a` }]);
    expect(v.lost_shards).toEqual([]);
    expect(v.affected_files).toEqual([]);
    expect(await replicaStates(repo, id)).toEqual({ a: 'bad', b: 'ok' });
    // Read-data reads it from the other replica: still degraded, not corrupted.
    expect((await verifyBackup(repo.ctx, row, true)).status).toBe('degraded');

    await repo.backends.get('a')!.put(shardKey(id), good);
    expect((await verifyBackup(repo.ctx, row, false)).status).toBe('healthy');
    expect(await replicaStates(repo, id)).toEqual({ a: 'ok', b: 'ok' });
  });

  it('a vanished replica is named missing and marked missing', async () => {
    repo = plainRepo();
    const { row, shardOf } = await memoryBackup(repo, files());
    const id = shardOf['one.bin']!;
    await repo.backends.get('b')!.delete(shardKey(id));
    const v = await verifyBackup(repo.ctx, row, false);
    expect(v.status).toBe('degraded');
    expect(v.bad_shards).toEqual([{ shard_id: id, location: 'b', problem: 'missing', message: `Shard ${id} is missing at b` }]);
    expect(await replicaStates(repo, id)).toEqual({ a: 'ok', b: 'missing' });
  });

  it('every replica of a shard damaged: corrupted, naming the shard, each bad copy and the file that lies in it', async () => {
    repo = plainRepo();
    const { row, shardOf } = await memoryBackup(repo, files());
    const id = shardOf['two.bin']!;
    await damageReplica(repo, 'a', id);
    await damageReplica(repo, 'b', id);
    for (const readData of [false, true]) {
      const v = await verifyBackup(repo.ctx, row, readData);
      expect(v.status).toBe('corrupted');
      expect(v.all_shards_valid).toBe(false);
      expect(v.lost_shards).toEqual([id]);
      expect(v.bad_shards.map((b) => [b.shard_id, b.location, b.problem])).toEqual([
        [id, 'a', 'checksum_mismatch'],
        [id, 'b', 'checksum_mismatch'],
      ]);
      expect(v.affected_files).toEqual(['two.bin']);
    }
    expect(await replicaStates(repo, id)).toEqual({ a: 'bad', b: 'bad' });
  });

  it('a shard the manifest names that the index does not know: corrupted, missing from the catalog', async () => {
    repo = plainRepo();
    const ghost = `${'e'.repeat(64)}-000000000001`;
    const { row } = await memoryBackup(repo, files(), { extraChunks: [ghost] });
    const v = await verifyBackup(repo.ctx, row, false);
    expect(v.status).toBe('corrupted');
    expect(v.lost_shards).toEqual([ghost]);
    expect(v.bad_shards).toEqual([{ shard_id: ghost, location: '*', problem: 'missing', message: `Shard ${ghost} is referenced by backup b1 but is not in the catalog (run recover-catalog, or restore what is left)` }]);
  });

  it('good replicas below the replication factor: degraded, saying how many', async () => {
    repo = plainRepo();
    const { row, shardOf } = await memoryBackup(repo, files());
    repo.ctx.config.replication_factor = 3;
    const v = await verifyBackup(repo.ctx, row, false);
    expect(v.status).toBe('degraded');
    expect(v.lost_shards).toEqual([]);
    expect(v.bad_shards).toContainEqual({ shard_id: shardOf['one.bin']!, location: '*', problem: 'missing', message: `Shard ${shardOf['one.bin']} has 2 replica(s), fewer than the replication factor 3` });
  });
  it("a shard the backup references in the index but its manifest does not name is checked too", async () => {
    repo = plainRepo();
    const { row } = await memoryBackup(repo, files());
    const w = memoryWriter(repo, 'b1');
    const extra = (await (await w.add(randomBytes(4000), 'data')).shard).id;
    await w.drain();
    await damageReplica(repo, 'b', extra);
    const v = await verifyBackup(repo.ctx, row, false);
    expect(v.status).toBe('degraded');
    expect(v.bad_shards.map((b) => [b.shard_id, b.location])).toEqual([[extra, 'b']]);
  });
});

describe('verify of an encrypted repository on a memory index', () => {
  it('read-data decrypts every shard (healthy); a damaged copy is found as in plaintext', async () => {
    repo = memoryRepo({ config: { enable_encryption: true } });
    const key = repo.keySource.add('standard');
    const { row, shardOf } = await memoryBackup(repo, files(), { key });
    expect((await verifyBackup(repo.ctx, row, true)).status).toBe('healthy');
    await damageReplica(repo, 'b', shardOf['three.bin']!);
    const v = await verifyBackup(repo.ctx, row, true);
    expect(v.status).toBe('degraded');
    expect(v.bad_shards.map((b) => [b.shard_id, b.location, b.problem])).toEqual([[shardOf['three.bin']!, 'b', 'checksum_mismatch']]);
  });
});
