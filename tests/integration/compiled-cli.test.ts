/**
 * The CLI runs compiled JavaScript (dist/, scripts/build-dist.mjs), not TypeScript through tsx, and never a
 * stale build: after a source changes, the next command builds again (or, when it cannot build, runs the
 * sources through tsx and says so). Works on a copy of the application's code so that editing a source
 * cannot disturb other tests; node_modules is shared by a link.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distStale, readManifest } from '../../server/dist.mjs';
import { catalogStopped } from '../support/catalog-stop';

const exec = promisify(execFile);
const root = path.resolve(__dirname, '../..');
const trace = path.join(root, 'tests/support/import-trace.mjs');
let app: string;

async function cli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stderr: string; loaded: string[] }> {
  const env = { ...process.env, PLEXICHAT_APP_ROOT: undefined, ...extraEnv };
  const r = await exec(process.execPath, ['--import', trace, path.join(app, 'bin/plexichat-backup.mjs'), ...args], { cwd: app, env }).then(
    (ok) => ({ ...ok, code: 0 }),
    (err: { stderr: string; code: number }) => ({ stderr: err.stderr, code: err.code }),
  );
  const lines = r.stderr.split('\n');
  return { code: r.code, stderr: lines.filter((l) => !l.startsWith('[import] ')).join('\n'), loaded: lines.filter((l) => l.startsWith('[import] ')).map((l) => l.slice(9)) };
}

/** Whether Node loads `file` as an ES module: .mjs, or .js in a package whose nearest package.json says "type": "module". */
function isEsModule(file: string): boolean {
  if (file.endsWith('.mjs')) return true;
  if (!file.endsWith('.js')) return false;
  for (let dir = path.dirname(file); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    try {
      return (JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { type?: string }).type === 'module';
    } catch {
      // no package.json here: its parent decides
    }
  }
  return false;
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

  it('reaches CommonJS packages through require(), so Node never lexes their sources for export names', async () => {
    // An ES module importing CommonJS runs cjs-module-lexer over the package's source, and V8's optimising
    // compiler then spent 40-75 ms compiling the lexer in each of a backup's threads (scripts/build-dist.mjs).
    // Modules reached by require() do not pass the ES loader that import-trace.mjs hooks.
    const dir = await mkdtemp(path.join(tmpdir(), 'plexichat-compiled-run-'));
    try {
      await mkdir(path.join(dir, 'src'));
      await writeFile(path.join(dir, 'src/a.txt'), 'some text to back up\n'.repeat(1000));
      await writeFile(path.join(dir, 'config.json'), '{}');
      const env = { PLEXICHAT_DATA_DIR: path.join(dir, 'data'), PLEXICHAT_CONFIG: path.join(dir, 'config.json'), PLEXICHAT_ENCRYPTION_KEY: '11'.repeat(32), PLEXICHAT_CATALOG_IDLE_MS: '1000' };
      const r = await cli(['backup', path.join(dir, 'src'), '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.loaded.some((u) => u.endsWith('/dist/cli.mjs'))).toBe(true); // the hook sees the ES loader
      const packages = r.loaded.filter((u) => u.startsWith('file:') && u.includes('/node_modules/'));
      expect(packages.filter((u) => !isEsModule(fileURLToPath(u)))).toEqual([]);
    } finally {
      await catalogStopped(path.join(dir, 'data'));
      await rm(dir, { recursive: true, force: true });
    }
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
    expect(r.stderr).toContain('[argv] ["--max-semi-space-size=2","--initial-old-space-size=32","--heap-growing-percent=50"]');
  });
});
