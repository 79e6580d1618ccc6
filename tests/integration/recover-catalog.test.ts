import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { BackupMetadata } from '../../server/engine/types';
import { treeDiff } from '../support/compare';
import { runCli } from '../support/cli';
import { makeEnv, type TestEnv } from '../support/engine-env';

const MODE = process.env.TEST_DATABASE_URL ? 'postgres' : 'embedded';
import { makeTree } from '../support/tree';

describe('emergency recovery: the catalog is lost, the storage is not', () => {
  const envs: TestEnv[] = [];
  afterAll(async () => Promise.all(envs.map((e) => e.cleanup())));

  it('rebuilds every backup from the storage locations alone, then restores byte for byte', async () => {
    const a = await makeEnv(MODE);
    envs.push(a);
    const src = path.join(a.dir, 'src');
    await makeTree(src, { seed: 31, smallFiles: 400, bigFiles: [2 * 1024 * 1024], unicode: true, empties: true, symlinks: true });
    const engine = await a.open();
    const one = await engine.createBackup({ paths: [src], tags: ['first'] });
    const two = await engine.createBackup({ paths: [src], tags: ['second'], securityLevel: 'basic' });

    // A new installation: empty catalog, the same storage locations and master key.
    const locations = ['local-a', 'local-b'].map((name) => ({ name, type: 'local', path: path.join(a.config.storage_root, name) }));
    const b = await makeEnv(MODE, { storage_locations: locations }, { PLEXICHAT_ENCRYPTION_KEY: a.env.PLEXICHAT_ENCRYPTION_KEY });
    envs.push(b);
    const empty = await runCli(['list', '--json'], b.env);
    // A read-only command creates no installation: with the embedded catalog it says there is none yet.
    if (MODE === 'embedded') expect([empty.code, empty.stderr]).toEqual([4, expect.stringMatching(/No PlexiChat Backup installation here \(no catalog in /)]);
    else expect(empty.json).toEqual([]);

    // Meanwhile a new backup in the new catalog makes it non-empty: storage gc must still refuse, or it would
    // delete every backup the new catalog does not know.
    const newer = await runCli(['backup', src, '--json'], b.env);
    expect(newer.code, newer.stderr).toBe(0);
    const gc = await runCli(['storage', 'gc', '--json'], b.env);
    expect(gc.code).toBe(6);
    expect(gc.stderr).toMatch(/Run plexichat-backup recover-catalog first/);
    // The health monitor says so too, as a critical alert.
    expect((await runCli(['health-check', '--json'], b.env)).code).toBe(0);
    const alerts = (await runCli(['alerts', 'list', '--json'], b.env)).json as { rule: string; severity: string; state: string }[];
    expect(alerts).toContainEqual(expect.objectContaining({ rule: 'catalog_not_recovered', severity: 'critical', state: 'open' }));

    const wrongKey = await runCli(['recover-catalog', '--json'], { ...b.env, PLEXICHAT_DATA_DIR: path.join(b.dir, 'other'), PLEXICHAT_ENCRYPTION_KEY: 'cd'.repeat(32) });
    expect(wrongKey.code).not.toBe(0);
    expect(wrongKey.stderr).toMatch(/master key/);

    const rec = await runCli(['recover-catalog', '--json'], b.env);
    expect(rec.code, rec.stderr).toBe(0);
    expect(rec.json).toMatchObject({ backups: 2, damaged_objects: [], skipped_backups: [] });

    const list = (await runCli(['list', '--json'], b.env)).json as BackupMetadata[];
    expect(list.map((x) => x.backup_id).sort()).toEqual([one.backup_id, two.backup_id, (newer.json as BackupMetadata).backup_id].sort());
    const restored = list.find((x) => x.backup_id === two.backup_id)!;
    expect(restored).toMatchObject({ status: 'completed', security_level: 'basic', tags: ['second'], original_size: two.original_size, file_count: two.file_count });

    for (const id of [one.backup_id, two.backup_id]) {
      expect((await runCli(['verify', id, '--read-data'], b.env)).code).toBe(0);
      const target = path.join(b.dir, `r-${id}`);
      const r = await runCli(['restore', id, '--target', target], b.env);
      expect(r.code, r.stderr).toBe(0);
      expect(await treeDiff(src, target)).toEqual([]);
    }
    // Running it again changes nothing.
    const again = await runCli(['recover-catalog', '--json'], b.env);
    expect(again.json).toMatchObject({ backups: 0, shards: 0, keys: 0, damaged_backups: [], unreferenced_count: 0 });
    // Recovered: storage gc runs, and finds nothing to mark.
    const gc2 = await runCli(['storage', 'gc', '--json'], b.env);
    expect(gc2.code, gc2.stderr).toBe(0);
    expect(gc2.json).toMatchObject({ totals: { marked: { objects: 0 } } });
    expect((await runCli(['health-check', '--json'], b.env)).code).toBe(0);
    const after = (await runCli(['alerts', 'list', '--json'], b.env)).json as { rule: string; state: string }[];
    expect(after.filter((a) => a.rule === 'catalog_not_recovered' && a.state !== 'resolved')).toEqual([]);
  }, 600_000);
});
