/**
 * The CLI runs compiled JavaScript (dist/, scripts/build-dist.mjs), not TypeScript through tsx, and never a
 * stale build: after a source changes, the next command builds again (or, when it cannot build, runs the
 * sources through tsx and says so). Works on a copy of the application's code so that editing a source
 * cannot disturb other tests; node_modules is shared by a link.
 */
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distStale, readManifest } from '../../server/dist.mjs';

const exec = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const trace = path.join(root, 'tests/support/import-trace.mjs');
let app: string;

async function cli(args: string[]): Promise<{ code: number; stderr: string; loaded: string[] }> {
  const env = { ...process.env, PLEXICHAT_APP_ROOT: undefined };
  const r = await exec(process.execPath, ['--import', trace, path.join(app, 'bin/plexichat-backup.mjs'), ...args], { cwd: app, env }).then(
    (ok) => ({ ...ok, code: 0 }),
    (err: { stderr: string; code: number }) => ({ stderr: err.stderr, code: err.code }),
  );
  const lines = r.stderr.split('\n');
  return { code: r.code, stderr: lines.filter((l) => !l.startsWith('[import] ')).join('\n'), loaded: lines.filter((l) => l.startsWith('[import] ')).map((l) => l.slice(9)) };
}

const usesTsx = (loaded: string[]) => loaded.some((u) => u.includes('/node_modules/tsx/') || u.endsWith('.ts'));

/** Replaces the message `backup` without a path gives, so the test can tell which code answered. */
async function editUsageMessage(marker: string): Promise<void> {
  const file = path.join(app, 'server/cli/main.ts');
  const src = await readFile(file, 'utf8');
  const next = src.replace(/backup needs at least one path[^:']*/, `backup needs at least one path ${marker}`);
  expect(next).not.toBe(src);
  await writeFile(file, next);
}

beforeAll(async () => {
  app = await mkdtemp(path.join(tmpdir(), 'plexichat-compiled-'));
  for (const dir of ['bin', 'server', 'db', 'scripts']) await cp(path.join(root, dir), path.join(app, dir), { recursive: true });
  for (const file of ['package.json', 'tsconfig.json']) await cp(path.join(root, file), path.join(app, file));
  await symlink(path.join(root, 'node_modules'), path.join(app, 'node_modules'));
  await exec(process.execPath, [path.join(app, 'scripts/build-dist.mjs')], { cwd: app });
}, 120_000);
afterAll(async () => {
  if (app) await rm(app, { recursive: true, force: true });
});

describe('the compiled CLI', () => {
  it('runs a command from dist/ without loading tsx or any TypeScript source', async () => {
    expect(distStale(app)).toBeNull();
    const r = await cli(['backup']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('backup needs at least one path');
    expect(r.loaded.some((u) => u.endsWith('/dist/cli.mjs'))).toBe(true);
    expect(usesTsx(r.loaded)).toBe(false);
  });

  it('keeps a build whose sources were touched but not changed', async () => {
    const now = new Date();
    await utimes(path.join(app, 'server/cli/main.ts'), now, now);
    expect(distStale(app)).toBeNull();
  });

  it('builds again before running when a source changed, instead of running the stale build', async () => {
    const before = readManifest(app)!.builtAt;
    await editUsageMessage('(edited once)');
    expect(distStale(app)).toBe('server/cli/main.ts changed since the last build');
    const r = await cli(['backup']);
    expect(r.stderr).toContain('backup needs at least one path (edited once)');
    expect(usesTsx(r.loaded)).toBe(false);
    expect(readManifest(app)!.builtAt).not.toBe(before);
    expect(distStale(app)).toBeNull();
  });

  it('runs the sources through tsx, and says so, when the build is stale and cannot be made', async () => {
    await writeFile(path.join(app, 'scripts/build-dist.mjs'), "export async function buildDist() { throw new Error('no compiler here'); }\n");
    await editUsageMessage('(edited twice)');
    const r = await cli(['backup']);
    expect(r.stderr).toContain('backup needs at least one path (edited twice)');
    expect(r.stderr).toMatch(/building dist\/ failed \(no compiler here\); running the TypeScript sources through tsx/);
    expect(usesTsx(r.loaded)).toBe(true);
    expect(r.loaded.some((u) => u.includes('/dist/cli.mjs'))).toBe(false);
  });

  it('run as the installed command (through its shebang, as npm links it), starts node with its heap settings', async () => {
    // The shebang's flags are not visible to the code when run as `node bin/…`: an --import hook reports them.
    const hook = path.join(app, 'report-argv.mjs');
    await writeFile(hook, "process.stderr.write(`[argv] ${JSON.stringify(process.execArgv)}\\n`);\n");
    const env = { ...process.env, PLEXICHAT_APP_ROOT: undefined, NODE_OPTIONS: `--import ${hook}` };
    const r = await exec(path.join(app, 'bin/plexichat-backup.mjs'), ['backup'], { cwd: app, env }).catch((err: { stderr: string; code: number }) => err);
    expect('code' in r && r.code).toBe(2);
    expect(r.stderr).toContain('backup needs at least one path');
    expect(r.stderr).toContain('[argv] ["--max-semi-space-size=2","--initial-old-space-size=32"]');
  });
});
