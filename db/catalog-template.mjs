// The embedded catalog's template: a PostgreSQL cluster as PGlite's initdb leaves it, made once when the
// application is installed (npm's `prepare`, scripts/build-catalog-template.mjs) and stored in dist/ as a
// gzipped tar named by PGlite's version. A new installation's catalog server unpacks it into its data dir as
// plain files (unpackTemplate) and opens them as any existing catalog, instead of running initdb, which
// takes ~5 s and grows PGlite's WebAssembly heap to ~850 MiB. (Until session 27 the template went through
// PGlite's own loadDataDir: ~2 s, ~320 MiB, and a second process to release that memory.) Absent or made by
// another PGlite version, it is not used: initdb runs as before. It holds no data of any installation: the
// cluster is the same for all until the catalog's migrations run on it.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createGunzip } from 'node:zlib';

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

/**
 * Unpacks the template into `dir` (which must not exist yet) as the files of a PostgreSQL cluster: folders
 * 0700, files 0600 (the tar says 0666, and PGlite's loadDataDir wrote them so). Written into a sibling folder,
 * flushed to disk, then renamed: `dir` never holds half a cluster. Returns false when there is no template
 * for this PGlite; throws when it cannot be read or holds anything but folders and plain files inside the
 * cluster (the folder it was writing is removed).
 */
export async function unpackTemplate(root, dir) {
  const file = templateFile(root);
  if (!existsSync(file)) return false;
  const work = `${dir}.unpack-${process.pid}`;
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { mode: 0o700 });
  try {
    const gunzip = createGunzip();
    gunzip.end(readFileSync(file));
    const written = await extractTar(gunzip, work);
    // One flush at the end: ~0.2 s for the ~1,000 files, where one per file as written costs several times that.
    // The work folder too: it holds the cluster's top-level entries (PG_VERSION, base, …).
    for (const p of [...written, work]) fsyncPath(p);
    renameSync(work, dir);
    fsyncPath(path.dirname(dir));
    return true;
  } catch (err) {
    rmSync(work, { recursive: true, force: true });
    throw err;
  }
}

/** Flushes a file's or a folder's contents to disk. */
function fsyncPath(p) {
  const fd = openSync(p, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes the folders and plain files of a tar stream (ustar, as PGlite's dumpDataDir makes it) under `dest`.
 * Returns every path written (files and folders), for the caller to flush.
 */
export async function extractTar(stream, dest) {
  const written = [];
  let pending = Buffer.alloc(0);
  /** The file being written: its descriptor, the bytes still to come, then its padding to 512. */
  let fd = -1;
  let left = 0;
  let pad = 0;
  let ended = false;
  const entry = (header) => {
    if (header.every((b) => b === 0)) {
      ended = true;
      return;
    }
    const field = (from, len) => header.subarray(from, from + len).toString('latin1').replace(/\0.*$/s, '');
    const ustar = field(257, 6) === 'ustar';
    const name = (ustar && field(345, 155) ? `${field(345, 155)}/` : '') + field(0, 100);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const type = field(156, 1) || '0';
    if (!Number.isSafeInteger(size) || size < 0) throw new Error(`catalog template: bad size for ${JSON.stringify(name)}`);
    const target = insideDest(dest, name);
    if (type === '5') {
      if (target !== dest) mkdirSync(target, { recursive: true, mode: 0o700 });
      written.push(target);
    } else if (type === '0') {
      mkdirSync(path.dirname(target), { recursive: true, mode: 0o700 });
      fd = openSync(target, 'wx', 0o600);
      written.push(target);
      left = size;
      pad = (512 - (size % 512)) % 512;
      if (left === 0) closeFile();
    } else throw new Error(`catalog template: ${JSON.stringify(name)} is not a folder or a plain file (tar type ${JSON.stringify(type)})`);
  };
  const closeFile = () => {
    closeSync(fd);
    fd = -1;
  };
  try {
    for await (const chunk of stream) {
      let data = pending.length ? Buffer.concat([pending, chunk]) : chunk;
      pending = Buffer.alloc(0);
      while (data.length && !ended) {
        if (fd >= 0) {
          const n = Math.min(left, data.length);
          writeSync(fd, data, 0, n);
          left -= n;
          data = data.subarray(n);
          if (left === 0) closeFile();
        } else if (pad > 0) {
          const n = Math.min(pad, data.length);
          pad -= n;
          data = data.subarray(n);
        } else if (data.length >= 512) {
          entry(data.subarray(0, 512));
          data = data.subarray(512);
        } else {
          pending = Buffer.from(data);
          break;
        }
      }
    }
    if (!ended || fd >= 0) throw new Error('catalog template: the archive ends early');
    return written;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
}

/** `name` (a tar member, leading slashes dropped) as a path under `dest`; throws for one that would leave it. */
function insideDest(dest, name) {
  const rel = name.replace(/^\/+/, '').replace(/\/+$/, '');
  if (rel.split('/').includes('..')) throw new Error(`catalog template: ${JSON.stringify(name)} leaves the cluster's folder`);
  const target = path.resolve(dest, rel || '.');
  if (target !== dest && !target.startsWith(dest + path.sep)) throw new Error(`catalog template: ${JSON.stringify(name)} leaves the cluster's folder`);
  return target;
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
