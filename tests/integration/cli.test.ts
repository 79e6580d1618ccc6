import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackupMetadata, BackupProgress, VerifyResult } from '../../server/engine/types';
import { treeDiff } from '../support/compare';
import { CLI, runCli } from '../support/cli';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';
import { Rng, makeTree } from '../support/tree';

const MiB = 1024 * 1024;
const trace = path.resolve('tests/support/import-trace.mjs');

/** The CLI with every module it loads listed (tests/support/import-trace.mjs). */
function runTraced(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string; loaded: string[] }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', trace, CLI, ...args], { env: env as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const lines = stderr.split('\n');
      resolve({ code, stdout, stderr: lines.filter((l) => !l.startsWith('[import] ')).join('\n'), loaded: lines.filter((l) => l.startsWith('[import] ')).map((l) => l.slice(9)) });
    });
  });
}

describe.each(CATALOG_MODES)('the plexichat-backup CLI (%s catalog)', { timeout: 360_000 }, (mode) => {
  let t: TestEnv;
  let src: string;

  beforeAll(async () => {
    t = await makeEnv(mode);
    src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 8, smallFiles: 200, bigFiles: [2 * MiB], unicode: true, empties: true, symlinks: true });
  });
  afterAll(async () => t?.cleanup());

  it('backs up, lists, shows, lists files, verifies, restores and deletes, one JSON document per command', async () => {
    const b = await runCli(['backup', src, '--tag', 'daily', '--retention-days', '7', '--security-level', 'basic', '--json'], t.env);
    expect(b.code, b.stderr).toBe(0);
    const meta = b.json as BackupMetadata;
    expect(meta).toMatchObject({ status: 'completed', security_level: 'basic', tags: ['daily'], retention_days: 7 });
    expect(meta.shard_count).toBeGreaterThan(0);
    expect(meta.stored_size).toBeGreaterThan(0);

    const list = await runCli(['list', '--tag', 'daily', '--json'], t.env);
    expect((list.json as BackupMetadata[]).map((x) => x.backup_id)).toEqual([meta.backup_id]);
    const show = await runCli(['show', meta.backup_id, '--json'], t.env);
    expect((show.json as BackupMetadata).original_size).toBe(meta.original_size);
    const ls = await runCli(['ls', meta.backup_id, '--json'], t.env);
    expect((ls.json as { total: number }).total).toBeGreaterThanOrEqual(meta.file_count);
    const lsText = await runCli(['ls', meta.backup_id, '--limit', '2'], t.env);
    expect(lsText.stdout).toMatch(/^[-dl] +\d+ \d{4}-\d\d-\d\d \d\d:\d\d:\d\d {2}\S/m);
    expect(lsText.stdout).toMatch(/more \(--offset 2\)/);
    const prog = await runCli(['progress', meta.backup_id, '--json'], t.env);
    expect(prog.json as BackupProgress).toMatchObject({ status: 'completed', percent: 100, phase: 'done' });

    const v = await runCli(['verify', meta.backup_id, '--read-data', '--json'], t.env);
    expect(v.code).toBe(0);
    expect(v.json as VerifyResult).toMatchObject({ status: 'healthy', all_shards_valid: true, bad_shards: [] });

    const target = path.join(t.dir, 'restored');
    const r = await runCli(['restore', meta.backup_id, '--target', target, '--json'], t.env);
    expect(r.code, r.stderr).toBe(0);
    expect(await treeDiff(src, target)).toEqual([]);

    const stats = await runCli(['stats', '--json'], t.env);
    expect((stats.json as { completed_backups: number }).completed_backups).toBeGreaterThanOrEqual(1);

    const d = await runCli(['delete', meta.backup_id, '--json'], t.env);
    expect(d.json).toEqual({ kept_locked: [], backup_id: meta.backup_id, deleted: true });
    const gone = await runCli(['show', meta.backup_id, '--json'], t.env);
    expect(gone.code).not.toBe(0);
    expect((gone.json as { error: { message: string } }).error.message).toMatch(/not found/);
  });

  it('lists from the catalog alone: no storage, codec or backup code loads, and a wrong master key is still refused', async () => {
    const b = await runCli(['backup', src, '--tag', 'reader', '--json'], t.env);
    expect(b.code, b.stderr).toBe(0);
    const traced = await runTraced(['list', '--tag', 'reader', '--json'], t.env);
    expect(traced.code, traced.stderr).toBe(0);
    expect((JSON.parse(traced.stdout) as BackupMetadata[]).map((x) => x.backup_id)).toEqual([(b.json as BackupMetadata).backup_id]);
    // The compression addons, the xattr reader and the erasure coder come with the engine's backup and restore code.
    expect(traced.loaded.filter((u) => /zstd-napi|lz4-napi|@napi-rs\/xattr|reed-solomon|\/engine\/engine\.ts/.test(u))).toEqual([]);
    const wrong = await runCli(['list', '--json'], { ...t.env, PLEXICHAT_ENCRYPTION_KEY: 'cd'.repeat(32) });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/master key does not open this repository/);
  });

  it('answers bad input with one clear line and a usage exit code', async () => {
    const bad = await runCli(['backup', src, '--type', 'weekly'], t.env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--type must be one of full/);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const missing = await runCli(['backup', path.join(t.dir, 'nope')], t.env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/does not exist/);
    const cfg = await runCli(['list'], { ...t.env, PLEXICHAT_SHARD_SIZE: '1000' });
    expect(cfg.code).toBe(2);
    expect(cfg.stderr).toMatch(/shard_size must be between 262144 and 20971520 bytes \(256 KiB–20 MiB\)/);
    expect(cfg.stderr).toMatch(/PLEXICHAT_SHARD_SIZE/);
  });

  it('adds console users from the command line', async () => {
    const ok = await runCli(['user', 'add', '--email', 'ops@example.com', '--password', 'correct horse battery', '--role', 'operator', '--json'], t.env);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.json).toMatchObject({ email: 'ops@example.com', role: 'operator' });
    expect(JSON.stringify(ok.json)).not.toMatch(/argon2|password/i);
    const dup = await runCli(['user', 'add', '--email', 'ops@example.com', '--password', 'correct horse battery', '--role', 'operator'], t.env);
    expect(dup.code).toBe(6);
    expect(dup.stderr).toMatch(/already exists/);
    const bad = await runCli(['user', 'add', '--email', 'x@example.com', '--password', 'correct horse battery', '--role', 'root'], t.env);
    expect(bad.code).toBe(2);
  });

  it('a backup killed with SIGKILL half-way is never completed; the next backup, verify and restore succeed', async () => {
    const dir = path.join(t.dir, 'killme');
    const rng = new Rng(5);
    await makeTree(dir, { seed: 9, smallFiles: 50 });
    for (let i = 0; i < 8; i++) await writeFile(path.join(dir, `chunk-${i}.bin`), rng.bytes(64 * MiB));
    const watcher = await t.open();
    let pid = 0;
    const running = runCli(['backup', dir, '--tag', 'killed', '--json'], t.env, { onSpawn: (p) => (pid = p) });
    // Wait until it is really under way (data flowing, far from done), then kill it without warning.
    let seen = false;
    for (let i = 0; i < 3000 && !seen; i++) {
      const row = (await watcher.listBackups({ tags: ['killed'] }))[0];
      const p = row?.status === 'running' ? await watcher.getBackupProgress(row.backup_id) : null;
      seen = Boolean(p && p.bytes_done > 0 && p.percent < 90);
      if (!seen) await new Promise((r) => setTimeout(r, 20));
    }
    expect(seen).toBe(true);
    process.kill(pid, 'SIGKILL');
    await running;
    const after = await runCli(['list', '--tag', 'killed', '--json'], t.env);
    const killed = (after.json as BackupMetadata[])[0]!;
    expect(killed.status).toBe('failed');
    expect(killed.error).toMatch(/interrupted/);

    const again = await runCli(['backup', dir, '--json'], t.env);
    expect(again.code, again.stderr).toBe(0);
    const id = (again.json as BackupMetadata).backup_id;
    expect((await runCli(['verify', id, '--read-data'], t.env)).code).toBe(0);
    const target = path.join(t.dir, 'r-killed');
    expect((await runCli(['restore', id, '--target', target], t.env)).code).toBe(0);
    expect(await treeDiff(dir, target)).toEqual([]);
  });

  it('lets several processes work on one installation at the same time', async () => {
    const dirs = await Promise.all(
      [1, 2, 3].map(async (i) => {
        const d = path.join(t.dir, `par${i}`);
        await makeTree(d, { seed: 100 + i, smallFiles: 100, bigFiles: [MiB] });
        return d;
      }),
    );
    const engine = await t.open();
    const [a, b, c, local] = await Promise.all([
      runCli(['backup', dirs[0]!, '--json'], t.env),
      runCli(['backup', dirs[1]!, '--json'], t.env),
      runCli(['list', '--json'], t.env),
      engine.createBackup({ paths: [dirs[2]!] }),
    ]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect(c.code, c.stderr).toBe(0);
    expect(local.status).toBe('completed');
    for (const id of [(a.json as BackupMetadata).backup_id, (b.json as BackupMetadata).backup_id, local.backup_id]) {
      expect((await engine.verifyBackup(id, { readData: true })).status).toBe('healthy');
    }
    expect(await readFile(path.join(dirs[0]!, 'big-0.bin'))).toHaveLength(MiB);
  });
});
