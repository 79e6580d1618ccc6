/**
 * The embedded catalog server after a first start: it creates the database, then serves it from a fresh
 * process, so PGlite's initdb heap (~900 MiB) is not kept for the life of the server.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../support/cli';
import { makeEnv, type TestEnv } from '../support/engine-env';

describe('embedded catalog server', () => {
  let t: TestEnv;
  afterAll(async () => t?.cleanup());

  it('serves a new database from a restarted process that holds well under the initdb peak', async () => {
    t = await makeEnv('embedded');
    // The first command that creates the installation (a read-only one would exit 4: there is none yet).
    const src = path.join(t.dir, 'src');
    await mkdir(src);
    await writeFile(path.join(src, 'a.txt'), 'a');
    const r = await runCli(['backup', src, '--json'], t.env);
    expect(r.code, r.stderr).toBe(0);
    const log = await readFile(path.join(t.config.data_dir, 'catalog.log'), 'utf8');
    expect(log).toMatch(/created the catalog database; restarting to release the memory initdb used/);
    const pid = Number(/catalog server listening on .* \(pid (\d+)\)/.exec(log)?.[1]);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rssMiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
    expect(rssMiB).toBeGreaterThan(0);
    expect(rssMiB).toBeLessThan(600);
  });
});
