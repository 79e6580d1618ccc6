/**
 * The benchmark's restore targets (bench/restore-target.ts): as root, each restore gets a new ext4 file
 * system of its own, gone again once released; with BENCH_FRESH_FS=0 (or without root) restores go to the
 * work dir, and the reason is kept for the report.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RestoreTargets } from '../../bench/restore-target';

const work = await mkdtemp(path.join(tmpdir(), 'pb-restore-target-'));
afterAll(() => rm(work, { recursive: true, force: true }));
const root = process.getuid?.() === 0;

describe('bench restore targets', () => {
  it('gives each restore a new ext4 file system where it can, and removes it on release', async () => {
    const targets = await RestoreTargets.detect(work, {});
    if (!root) {
      expect(targets.mode).toBe('work-dir');
      expect(targets.reason).toMatch(/root/);
      return;
    }
    // CI runs as root with mkfs.ext4 and loop devices: a fallback here would hide a broken measurement setup.
    expect(targets.reason).toBeNull();
    expect(targets.mode).toBe('fresh-ext4');
    const a = await targets.prepare('plexichat-a', 8 * 1024 * 1024, 500);
    const b = await targets.prepare('restic-a', 8 * 1024 * 1024, 500);
    try {
      expect(existsSync(a.dir)).toBe(false); // the tool creates it
      const mountA = path.dirname(a.dir);
      expect(statSync(mountA).dev).not.toBe(statSync(work).dev);
      expect(statSync(mountA).dev).not.toBe(statSync(path.dirname(b.dir)).dev);
      expect(await readdir(mountA)).toEqual(['lost+found']); // nothing from an earlier restore
      await writeFile(path.join(mountA, 'x'), 'restored');
      expect(await readFile(path.join(mountA, 'x'), 'utf8')).toBe('restored');
    } finally {
      await a.release();
      await b.release();
    }
    expect(await readdir(path.join(work, 'restore-fs'))).toEqual([]);
  });

  it('restores into the work dir with BENCH_FRESH_FS=0, and says why', async () => {
    const targets = await RestoreTargets.detect(work, { BENCH_FRESH_FS: '0' });
    expect(targets.mode).toBe('work-dir');
    expect(targets.reason).toBe('BENCH_FRESH_FS=0');
    const t = await targets.prepare('plexichat-b', 1024, 1);
    expect(t.dir).toBe(path.join(work, 'restore', 'plexichat-b'));
    await writeFile(path.join(path.dirname(t.dir), 'keep'), '');
    await t.release();
    expect(existsSync(t.dir)).toBe(false);
  });
});
