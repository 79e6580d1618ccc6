#!/usr/bin/env node
// Compiles the TypeScript that runs outside the console into dist/ (npm's `prepare`, so `npm ci` builds it;
// bin/plexichat-backup.mjs and bin/start.mjs rebuild it when a source changed): the CLI, the catalog
// server, the codec worker thread and the configuration loader, each one bundled ES module. Packages stay
// in node_modules (native addons, PGlite and its WebAssembly load from there as before). dist/manifest.json
// records every source compiled, which is how server/dist.mjs tells a current build from a stale one.
//   node scripts/build-dist.mjs        # or: npm run build:dist
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DIST_ENTRIES, distDir } from '../server/dist.mjs';

const here = fileURLToPath(import.meta.url);

/** The first file called `name` under `dir` (the engine's files move between its sub-folders). */
function find(dir, name) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isFile() && e.name === name) return p;
    if (e.isDirectory()) {
      const found = find(p, name);
      if (found) return found;
    }
  }
  return null;
}

function entryPoints(root) {
  const codecWorker = find(path.join(root, 'server', 'engine'), 'codec-worker.ts');
  if (!codecWorker) throw new Error(`build-dist: no codec-worker.ts under ${path.join(root, 'server', 'engine')}`);
  const entries = {
    cli: path.join(root, 'server', 'cli', 'main.ts'),
    'catalog-daemon': path.join(root, 'db', 'catalog-daemon.ts'),
    'codec-worker': codecWorker,
    config: path.join(root, 'server', 'config.ts'),
  };
  if (Object.keys(entries).join() !== DIST_ENTRIES.join()) throw new Error('build-dist: the entries here and DIST_ENTRIES in server/dist.mjs differ');
  return entries;
}

/**
 * Pure-JavaScript packages compiled into the bundles: each is many small modules that Node would resolve
 * and read one by one at every start (pg and its dependencies: ~40 files, each a few stat()s and a
 * package.json read; bundled, a restore of ten small files with caches dropped took 519-547 instead of
 * 563-588 ms, together with bin/'s prestarted threads). Every other package stays in node_modules (native
 * addons, PGlite and its WebAssembly, the storage SDKs loaded only when used).
 */
const BUNDLED = ['drizzle-orm', 'zod', 'croner', 'picomatch', 'pg', 'pg-pool', 'pg-protocol', 'pg-types', 'pg-connection-string', 'pgpass', 'pg-int8', 'postgres-array', 'postgres-bytea', 'postgres-date', 'postgres-interval', 'split2', 'xtend'];

/**
 * Every package but `bundled` stays in node_modules. One that Node loads as CommonJS is reached through
 * require() (the banner's), not import: an ES module importing CommonJS makes Node lex the package's source
 * for its export names (cjs-module-lexer), and that lexer is one large function that V8's optimising compiler
 * took 40-75 ms of CPU to compile in each thread (a backup's four: ~600 ms of its CPU). ES-module packages
 * (PGlite), and packages loaded by a dynamic import(), are imported as before.
 */
function packagesExternalExcept(bundled) {
  const pkgOf = (spec) => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
  return {
    name: 'packages-external-except',
    setup(b) {
      const formats = new Map();
      b.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.path.startsWith('node:') || args.path.startsWith('@/')) return undefined;
        if (bundled.includes(pkgOf(args.path))) return undefined;
        if (args.pluginData === 'probe') return undefined; // esbuild's own resolution: where Node would load it from
        // A dynamic import() stays Node's: esbuild gives a CommonJS module imported that way only a default
        // export (argon2.hash would be undefined), where Node gives the names it finds. Those load rarely.
        if (args.namespace === 'cjs-external' || args.kind === 'dynamic-import') return { path: args.path, external: true };
        let format = formats.get(args.path);
        if (!format) {
          const r = await b.resolve(args.path, { kind: 'import-statement', resolveDir: args.resolveDir, pluginData: 'probe' });
          format = r.errors.length ? 'esm' : packageFormat(r.path, pkgOf(args.path));
          formats.set(args.path, format);
        }
        return format === 'cjs' ? { path: args.path, namespace: 'cjs-external' } : { path: args.path, external: true };
      });
      b.onLoad({ filter: /.*/, namespace: 'cjs-external' }, (args) => ({ contents: `module.exports = require(${JSON.stringify(args.path)});`, loader: 'js' }));
    },
  };
}

/**
 * 'esm' for a package written as ES modules ("type": "module", as PGlite); 'cjs' for one Node loads as
 * CommonJS, including a CommonJS package whose "import" entry is an .mjs wrapper around its CommonJS code (pg):
 * importing the wrapper lexes that code all the same.
 */
function packageFormat(resolved, pkg) {
  if (moduleFormat(resolved) === 'cjs') return 'cjs';
  const at = resolved.lastIndexOf(`${path.sep}node_modules${path.sep}${pkg.split('/').join(path.sep)}${path.sep}`);
  if (at < 0) return 'esm';
  const manifest = path.join(resolved.slice(0, at), 'node_modules', pkg, 'package.json');
  try {
    return JSON.parse(readFileSync(manifest, 'utf8')).type === 'module' ? 'esm' : 'cjs';
  } catch {
    return 'esm';
  }
}

/** How Node loads a resolved file: .mjs and .cjs by their extension, .js by its package's "type". */
function moduleFormat(file) {
  if (file.endsWith('.mjs')) return 'esm';
  if (file.endsWith('.cjs') || file.endsWith('.node') || file.endsWith('.json')) return 'cjs';
  for (let dir = path.dirname(file); ; dir = path.dirname(dir)) {
    try {
      return JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).type === 'module' ? 'esm' : 'cjs';
    } catch {
      if (path.dirname(dir) === dir) return 'cjs';
    }
  }
}

const fileRecord = (file) => {
  const st = statSync(file);
  return { size: st.size, mtimeMs: st.mtimeMs, sha256: createHash('sha256').update(readFileSync(file)).digest('hex') };
};

/**
 * Builds dist/ for the application at `root` and returns how long it took. Written beside dist/ first and
 * moved in file by file with the manifest last, so a process starting meanwhile sees either no current build
 * or a whole one. A source changed during the build leaves no manifest: the next start builds again.
 */
export async function buildDist(root) {
  const started = Date.now();
  const { build } = await import('esbuild');
  const tmp = path.join(root, `dist.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    const result = await build({
      entryPoints: entryPoints(root),
      outdir: tmp,
      absWorkingDir: root,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20.9',
      plugins: [packagesExternalExcept(BUNDLED)],
      // Bundled CommonJS packages (picomatch) call require() for Node's own modules.
      banner: { js: "import { createRequire as __plexichatRequire } from 'node:module'; const require = __plexichatRequire(import.meta.url);" },
      outExtension: { '.js': '.mjs' },
      // What the sources import lazily (storage SDKs, argon2, nodemailer) stays lazy: its own chunk.
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      sourcemap: 'linked',
      // No keepNames: its __name() wrappers cost ~70 ms of CPU at every start; no code here reads a renamed
      // function's or class's name (esbuild renames only on collisions, none of which are classes).
      metafile: true,
      logLevel: 'error',
    });
    const inputs = {};
    // A bundled package counts by its package.json (its version), not by each of its files.
    const sources = Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules/') && !f.startsWith('cjs-external:'));
    const packages = BUNDLED.map((p) => path.join('node_modules', p, 'package.json'));
    for (const file of [...sources, ...packages, path.relative(root, here), 'tsconfig.json']) {
      const rec = fileRecord(path.join(root, file));
      if (rec.mtimeMs > started) return { ms: Date.now() - started, written: false };
      inputs[file] = rec;
    }
    const dist = distDir(root);
    mkdirSync(dist, { recursive: true });
    rmSync(path.join(dist, 'manifest.json'), { force: true });
    // Chunks are named by their content: new ones go beside the old ones, which a process started from the
    // previous build may still load lazily; those no build has used for a day are removed.
    mkdirSync(path.join(dist, 'chunks'), { recursive: true });
    const fresh = new Set(readdirSync(path.join(tmp, 'chunks')));
    for (const f of fresh) renameSync(path.join(tmp, 'chunks', f), path.join(dist, 'chunks', f));
    for (const f of readdirSync(path.join(dist, 'chunks'))) {
      const p = path.join(dist, 'chunks', f);
      if (!fresh.has(f) && statSync(p).mtimeMs < started - 86_400_000) rmSync(p, { force: true });
    }
    for (const f of readdirSync(tmp)) if (f !== 'chunks') renameSync(path.join(tmp, f), path.join(dist, f));
    const manifest = path.join(tmp, 'manifest.json');
    writeFileSync(manifest, `${JSON.stringify({ builtAt: new Date().toISOString(), inputs }, null, 1)}\n`);
    renameSync(manifest, path.join(dist, 'manifest.json'));
    return { ms: Date.now() - started, written: true };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === here) {
  const root = path.resolve(path.dirname(here), '..');
  try {
    const { ms } = await buildDist(root);
    console.log(`[build-dist] compiled ${DIST_ENTRIES.map((e) => `dist/${e}.mjs`).join(', ')} in ${ms} ms`);
  } catch (err) {
    console.error(`[build-dist] the build failed: ${err.message}`);
    process.exitCode = 1;
  }
}
