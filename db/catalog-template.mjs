// The embedded catalog's template: a PostgreSQL cluster as PGlite's initdb leaves it, made once when the
// application is installed (npm's `prepare`, scripts/build-catalog-template.mjs) and stored in dist/ as a
// gzipped tar named by PGlite's version. A new installation's catalog server unpacks it instead of running
// initdb, which takes ~5 s and grows PGlite's WebAssembly heap to ~850 MiB (the template: ~2 s, ~320 MiB).
// Absent or made by another PGlite version, it is not used: initdb runs as before. It holds no data of any
// installation: the cluster is the same for all until the catalog's migrations run on it.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);

/** The installed PGlite's version (its package.json). */
export function pgliteVersion() {
  const main = require.resolve('@electric-sql/pglite');
  for (let dir = path.dirname(main); path.dirname(dir) !== dir; dir = path.dirname(dir)) {
    const pkg = path.join(dir, 'package.json');
    if (existsSync(pkg)) {
      const json = JSON.parse(readFileSync(pkg, 'utf8'));
      if (json.name === '@electric-sql/pglite') return json.version;
    }
  }
  throw new Error('catalog template: cannot find the version of @electric-sql/pglite');
}

/** Where the template for this PGlite version lives, for the application at `root`. */
export const templateFile = (root) => path.join(/* turbopackIgnore: true */ root, 'dist', 'catalog-template', `pglite-${pgliteVersion()}.tar.gz`);

/** The template as a Blob for PGlite's `loadDataDir`, or null when none was made for this PGlite. */
export function loadTemplate(root) {
  try {
    return new Blob([readFileSync(templateFile(root))]);
  } catch {
    return null;
  }
}

/** Makes the template with a throw-away initdb (written beside, then renamed: never half a file). */
export async function buildTemplate(root) {
  const { PGlite } = await import('@electric-sql/pglite');
  const file = templateFile(root);
  const work = path.join(tmpdir(), `plexichat-template-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  try {
    const db = await PGlite.create(work);
    await db.query('SELECT 1');
    const blob = await db.dumpDataDir('gzip');
    await db.close();
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(`${file}.tmp`, Buffer.from(await blob.arrayBuffer()));
    renameSync(`${file}.tmp`, file);
    return { file, bytes: blob.size };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
