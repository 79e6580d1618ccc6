/**
 * The embedded catalog server after a first start: it creates the database, then serves it from a fresh
 * process, so PGlite's initdb heap (~900 MiB) is not kept for the life of the server; and a process that
 * outlives its catalog server (it stopped when idle, or died) gets a new one on its next connection.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCatalog } from '../../db/client';
import { catalogStopped } from '../support/catalog-stop';
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
    // From the template npm's `prepare` made (db/catalog-template.mjs): no initdb, whose heap grew to ~850 MiB.
    expect(log).toMatch(/created the catalog database \(from the installed template\); restarting to release the memory its creation used/);
    const pid = Number(/catalog server listening on .* \(pid (\d+)\)/.exec(log)?.[1]);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const rssMiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
    expect(rssMiB).toBeGreaterThan(0);
    expect(rssMiB).toBeLessThan(300);
  });

  it('a long-lived process whose catalog server went away starts a new one on its next query', async () => {
    const catalog = await openCatalog({ dataDir: t.config.data_dir });
    try {
      expect((await catalog.pool.query('SELECT count(*)::int AS n FROM backups')).rows[0]).toEqual({ n: 1 });
      const pidOf = async () => Number([...(await readFile(path.join(t.config.data_dir, 'catalog.log'), 'utf8')).matchAll(/catalog server listening on .* \(pid (\d+)\)/g)].at(-1)?.[1]);
      const first = await pidOf();
      process.kill(first, 'SIGTERM'); // as when it stops after its idle time, or is killed
      expect(await catalogStopped(t.config.data_dir)).toBe(true);
      await new Promise((r) => setTimeout(r, 200)); // the pool drops the connection the server closed
      expect((await catalog.pool.query('SELECT count(*)::int AS n FROM backups')).rows[0]).toEqual({ n: 1 });
      expect(await pidOf()).not.toBe(first);
    } finally {
      await catalog.close();
    }
  });
});
