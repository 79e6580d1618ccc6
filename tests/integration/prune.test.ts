import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { treeDiff } from '../support/compare';
import { runCli } from '../support/cli';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { Rng, makeTree } from '../support/tree';

const MiB = 1024 * 1024;
const stored = async (e: BackupEngine) => (await e.getStorageUsage()).reduce((n, l) => n + l.used_bytes, 0);

describe.each(CATALOG_MODES)('prune and garbage collection (%s catalog)', (mode) => {
  let t: TestEnv;
  let engine: BackupEngine;

  beforeAll(async () => {
    t = await makeEnv(mode);
    engine = await t.open();
  });
  afterAll(async () => t?.cleanup());

  it('prune --keep-last 1 removes older backups and their data; the kept one verifies and restores', async () => {
    const src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 1, smallFiles: 200 });
    const rng = new Rng(3);
    for (let i = 0; i < 3; i++) {
      await writeFile(path.join(src, `changing-${i}.bin`), rng.bytes(2 * MiB));
      await engine.createBackup({ paths: [src] });
    }
    const before = await stored(engine);
    const dry = await runCli(['prune', '--keep-last', '1', '--dry-run', '--json'], t.env);
    expect((dry.json as { remove: unknown[]; removed: number }).remove).toHaveLength(2);
    expect(await stored(engine)).toBe(before);

    const res = await runCli(['prune', '--keep-last', '1', '--json'], t.env);
    expect(res.code, res.stderr).toBe(0);
    const plan = res.json as { keep: { backup_id: string; reasons: string[] }[]; removed: number };
    expect(plan.removed).toBe(2);
    expect(plan.keep).toHaveLength(1);
    expect(plan.keep[0]!.reasons).toEqual(['keep-last 1/1']);
    expect(await stored(engine)).toBeLessThan(before);

    const kept = plan.keep[0]!.backup_id;
    expect((await engine.verifyBackup(kept, { readData: true })).status).toBe('healthy');
    const target = path.join(t.dir, 'restored');
    await engine.restoreBackup(kept, { target });
    expect(await treeDiff(src, target)).toEqual([]);
  });

  it('a prune running while backups run never breaks them', async () => {
    const src = path.join(t.dir, 'busy');
    await makeTree(src, { seed: 2, smallFiles: 100, bigFiles: [MiB] });
    const rng = new Rng(4);
    const ids: string[] = [];
    for (let round = 0; round < 8; round++) {
      const older = await engine.createBackup({ paths: [src], tags: ['older'] });
      await writeFile(path.join(src, 'changing.bin'), rng.bytes(MiB));
      // The new backup reuses the older backup's shards while prune removes that backup and collects them.
      const [b] = await Promise.all([
        engine.createBackup({ paths: [src] }),
        (async () => {
          for (let i = 0; i < round % 4; i++) await new Promise((r) => setImmediate(r));
          await engine.prune({ keepLast: 0, keepDaily: 0 });
          await engine.deleteBackup(older.backup_id).catch(() => undefined);
        })(),
      ]);
      ids.push(b.backup_id);
      expect((await engine.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
    }
    const last = ids.at(-1)!;
    const target = path.join(t.dir, 'busy-restored');
    await engine.restoreBackup(last, { target });
    expect(await treeDiff(src, target)).toEqual([]);
  });
});
