/**
 * The catalog's key source (repository/key-source.ts), which the read path takes its data keys from: a key of
 * the asked security level opens the backup's objects; the same key asked for at another level, or an id the
 * catalog does not hold, gives nothing; an encrypting installation allows no plaintext.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineContext } from '../../server/engine/context';
import type { BackupEngine } from '../../server/engine/engine';
import { readHeader } from '../../server/engine/repository/codec';
import { shardKey } from '../../server/engine/repository/repository';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

describe.each(CATALOG_MODES)('catalog key source (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
  });
  afterAll(async () => t?.cleanup());

  it('gives a data key only at its own security level, nothing for an unknown id, and no plaintext', async () => {
    const src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 5, smallFiles: 5, bigFiles: [] });
    const b = await engine.createBackup({ paths: [src], securityLevel: 'standard' });
    const ctx = (engine as unknown as { ctx: EngineContext }).ctx;
    const [rec] = await ctx.index.backupRecords(b.backup_id);
    expect(rec!.keyId).toBeTruthy();
    const key = await ctx.keySource.dataKey(rec!.keyId, 'standard');
    expect(key?.length).toBe(32);
    // The key the stored object names is the one the source gives.
    const stored = await ctx.locations.get(rec!.replicas[0]!.location)!.backend.get(shardKey(rec!.id));
    expect(readHeader(stored).keyId).toBe(rec!.keyId);
    expect(await ctx.pool.decode(stored, rec!.contentId, { [rec!.keyId]: key! }, { expectedChecksum: rec!.checksum, allowPlain: false })).toBeInstanceOf(Buffer);
    expect(await ctx.keySource.dataKey(rec!.keyId, 'high')).toBeNull();
    expect(await ctx.keySource.dataKey('no-such-key', 'standard')).toBeNull();
    expect(await ctx.keySource.plaintextAllowed()).toBe(false);
  });
});
