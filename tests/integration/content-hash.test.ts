/**
 * Every file's content hash in a backup's manifest is the SHA-256 of its bytes, taken as the data stream
 * passes (backup.ts: a large file's on the scan thread, a small one's on the main thread), whatever the
 * file's size and wherever its end falls among the scan thread's 1 MiB blocks. A drill compares each
 * restored file with its hash, and says `sha256` only when every file has one.
 */
import { link, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupEngine } from '../../server/engine/engine';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { pastRacyWindow, Rng } from '../support/tree';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('content hashes of a backup', () => {
  let t: TestEnv;
  let engine: BackupEngine;
  let src: string;

  beforeAll(async () => {
    t = await makeEnv('embedded');
    engine = await t.open();
    src = path.join(t.dir, 'src');
    const rng = new Rng(5);
    // Small files (up to 512 KiB) whose ends fall on the scan blocks' 1 MiB boundaries, empty ones among
    // them, a large file between, and a hard link to a small file (its entry takes the first path's hash).
    const sizes = [512 * KiB, 512 * KiB, 0, 1, 100, 512 * KiB - 101, 512 * KiB, 0, 3 * MiB + 5, 300_000, 7, 0];
    for (const [i, n] of sizes.entries()) {
      const dir = path.join(src, `d${Math.floor(i / 4)}`);
      await mkdir(dir, { recursive: true });
      await writeFile(path.join(dir, `f${String(i).padStart(2, '0')}`), rng.bytes(n));
    }
    await link(path.join(src, 'd2', 'f09'), path.join(src, 'd2', 'f10-link'));
    await pastRacyWindow();
  }, 120_000);
  afterAll(async () => t?.cleanup());

  it('has a hash for every file, each the SHA-256 of the file (a drill checks every one)', async () => {
    const b = await engine.createBackup({ paths: [src] });
    const r = await engine.runDrill({ backupId: b.backup_id, actor: 'test' });
    expect(r).toMatchObject({ status: 'passed', method: 'sha256', error: null, files_checked: 13 });
  });
});
