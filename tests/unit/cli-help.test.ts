/**
 * `plexichat-backup --help` answers from plain JavaScript: no TypeScript loader, no engine, no catalog
 * driver, no SDK (each of those costs start-up time the user waits through for a usage text).
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../..');

async function cli(args: string[]): Promise<{ stdout: string; stderr: string; code: number }> {
  try {
    const r = await run(process.execPath, ['--import', path.join(root, 'tests/support/import-trace.mjs'), path.join(root, 'bin/plexichat-backup.mjs'), ...args], { cwd: root });
    return { ...r, code: 0 };
  } catch (err) {
    const e = err as { stdout: string; stderr: string; code: number };
    return { stdout: e.stdout, stderr: e.stderr, code: e.code };
  }
}

const loaded = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('[import] ')).map((l) => l.slice(9));

describe('plexichat-backup --help', () => {
  it.each([['--help'], ['-h'], ['help']])('%s prints the usage and loads nothing but its text', async (flag) => {
    const r = await cli([flag]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: plexichat-backup <command>');
    expect(r.stdout).toContain('user delete --email E --yes');
    expect(r.stdout).toContain('drill run [--backup ID]');
    const urls = loaded(r.stderr);
    expect(urls.some((u) => u.endsWith('/server/cli/help.mjs'))).toBe(true);
    expect(urls.filter((u) => u.includes('/node_modules/') || u.endsWith('.ts'))).toEqual([]);
  });

  it('no command at all prints the usage with exit status 2', async () => {
    const r = await cli([]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('Usage: plexichat-backup <command>');
  });
});
