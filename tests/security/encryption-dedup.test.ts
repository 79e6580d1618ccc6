/**
 * Turning encryption on must mean every new backup is encrypted: a backup made after enable_encryption went
 * from false to true never deduplicates onto the plaintext shards written before (same content, same level),
 * while encrypted backups still deduplicate onto each other. Real catalog, real local storage, real objects.
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readHeader } from '../../server/engine/repository/codec';
import { shardKey } from '../../server/engine/repository/repository';
import type { BackupEngine } from '../../server/engine/engine';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

describe.each(CATALOG_MODES)('dedup after encryption is turned on (%s catalog)', (mode) => {
  const envs: TestEnv[] = [];
  afterAll(async () => Promise.all(envs.map((e) => e.cleanup())));

  /** The cipher of every object a backup references, read from storage. */
  async function ciphers(t: TestEnv, engine: BackupEngine, id: string): Promise<Set<string>> {
    const out = new Set<string>();
    for (const s of await engine.getShardMap(id)) {
      const loc = s.replicas[0]!.location;
      out.add(readHeader(await readFile(path.join(t.config.storage_root, loc, shardKey(s.shard_id)))).cipher);
    }
    return out;
  }

  it('an encrypting backup writes its own encrypted shards instead of reusing plaintext ones, then dedups onto them', async () => {
    const t = await makeEnv(mode, { enable_encryption: false });
    envs.push(t);
    const src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 21, smallFiles: 40, bigFiles: [1_500_000] });
    const plain = await t.open();
    const before = await plain.createBackup({ paths: [src] });
    expect(await ciphers(t, plain, before.backup_id)).toEqual(new Set(['none']));
    await plain.close();

    await writeFile(t.env.PLEXICHAT_CONFIG!, JSON.stringify({ enable_encryption: true }));
    const engine = await t.open();
    const after = await engine.createBackup({ paths: [src] });
    expect(await ciphers(t, engine, after.backup_id)).toEqual(new Set(['aes-256-gcm']));
    // Nothing of the data was reused: every byte was written again, encrypted.
    expect(after.dedup_ratio).toBe(0);
    expect(after.new_shard_count).toBe(before.new_shard_count);

    const again = await engine.createBackup({ paths: [src] });
    expect(again.dedup_ratio).toBe(1);
    expect(await ciphers(t, engine, again.backup_id)).toEqual(new Set(['aes-256-gcm']));
  }, 300_000);
});
