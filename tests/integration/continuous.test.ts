import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ContinuousWatcher } from '../../server/jobs/continuous';
import type { BackupMetadata } from '../../server/engine/types';
import { treeDiff } from '../support/compare';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree, pastRacyWindow } from '../support/tree';

describe('continuous backups', () => {
  let t: TestEnv;
  afterAll(async () => t?.cleanup());

  it('backs up changes after the delay, one backup per burst of changes, each restorable', async () => {
    t = await makeEnv('embedded');
    const engine = await t.open();
    const src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 12, smallFiles: 50 });
    await pastRacyWindow();
    const made: BackupMetadata[] = [];
    const w = new ContinuousWatcher(engine, { paths: [src], delayMs: 300, onBackup: (m) => made.push(m) });
    await w.start();
    expect(made).toHaveLength(1);
    const waitFor = async (n: number) => {
      for (let i = 0; i < 200 && made.length < n; i++) await new Promise((r) => setTimeout(r, 50));
      expect(made.length).toBeGreaterThanOrEqual(n);
    };
    // A burst of changes inside the delay gives one backup.
    for (let i = 0; i < 5; i++) await writeFile(path.join(src, `burst-${i}.txt`), `change ${i}`);
    await waitFor(2);
    await new Promise((r) => setTimeout(r, 800));
    expect(made).toHaveLength(2);
    await w.stop();

    const last = made[1]!;
    expect(last).toMatchObject({ status: 'completed', backup_type: 'continuous', tags: ['continuous'] });
    expect(last.metadata.base_backup_id).toBe(made[0]!.backup_id);
    expect(last.metadata.files_reused).toBe(50);
    const target = path.join(t.dir, 'restored');
    await engine.restoreBackup(last.backup_id, { target });
    expect(await treeDiff(src, target)).toEqual([]);
    expect(await engine.listBackups({ backupType: 'continuous' })).toHaveLength(2);
    // Listed collapsed, the watcher's backups show as their newest one.
    expect((await engine.listBackups({ collapseContinuous: true })).map((b) => b.backup_id)).toEqual([last.backup_id]);
  });
});
