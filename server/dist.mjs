// Whether the compiled JavaScript in dist/ (made by scripts/build-dist.mjs) is the build of the sources as
// they are now. The build records every source file it compiled (size, mtime, SHA-256) in
// dist/manifest.json; a file whose size or mtime differs is hashed, so a checkout or `touch` that leaves the
// content alone keeps the build, and any real edit makes it stale. Stale compiled code is never run: callers
// rebuild (bin/) or load the TypeScript through tsx instead (codec workers, catalog server).
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/** The compiled entry points, each dist/<name>.mjs. */
export const DIST_ENTRIES = ['cli', 'catalog-daemon', 'codec-worker', 'config'];

/** Where the build of the application at `root` lives. */
export const distDir = (root) => path.join(/* turbopackIgnore: true */ root, 'dist');

export function readManifest(root) {
  try {
    return JSON.parse(readFileSync(path.join(/* turbopackIgnore: true */ distDir(root), 'manifest.json'), 'utf8'));
  } catch {
    return null;
  }
}

/** null when dist/ holds a current build of every entry, else why not (one line, naming the file). */
export function distStale(root) {
  const manifest = readManifest(root);
  if (!manifest || typeof manifest.inputs !== 'object') return 'no build in dist/ (run npm run build:dist)';
  for (const name of DIST_ENTRIES) {
    try {
      statSync(path.join(/* turbopackIgnore: true */ distDir(root), `${name}.mjs`));
    } catch {
      return `dist/${name}.mjs is missing`;
    }
  }
  for (const [file, was] of Object.entries(manifest.inputs)) {
    let st;
    try {
      st = statSync(path.join(/* turbopackIgnore: true */ root, file));
    } catch {
      return `${file} was removed since the last build`;
    }
    if (st.size === was.size && st.mtimeMs === was.mtimeMs) continue;
    const sha256 = createHash('sha256').update(readFileSync(path.join(/* turbopackIgnore: true */ root, file))).digest('hex');
    if (sha256 !== was.sha256) return `${file} changed since the last build`;
  }
  return null;
}

/** dist/<name>.mjs, current or not: for a caller that has just asked distStale. */
export const distFile = (root, name) => path.join(/* turbopackIgnore: true */ distDir(root), `${name}.mjs`);

/** The path of dist/<name>.mjs when the build is current, else null (use the TypeScript source). */
export function distEntry(root, name) {
  return distStale(root) ? null : distFile(root, name);
}
