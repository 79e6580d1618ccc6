// The compiled entry points for bin/: dist/<name>.mjs when current, rebuilt first when a source changed
// (scripts/build-dist.mjs, ~1 s), or null when it cannot be built (esbuild missing, dist/ not writable): the
// caller then loads the TypeScript through tsx. A stale build is never run.
import { distFile, distStale } from '../server/dist.mjs';

/** @returns {Promise<string | null>} */
export async function compiledEntry(root, name, who) {
  // Every source is stat'ed (~160 files): once per start, not again to get the path.
  const stale = distStale(root);
  if (!stale) return distFile(root, name);
  const say = (line) => process.stderr.isTTY && process.stderr.write(`[${who}] ${line}\n`);
  try {
    const { buildDist } = await import('../scripts/build-dist.mjs');
    const { ms } = await buildDist(root);
    const still = distStale(root);
    if (!still) {
      say(`${stale}: compiled dist/ again in ${ms} ms`);
      return distFile(root, name);
    }
    process.stderr.write(`[${who}] ${still}; running the TypeScript sources through tsx (slower start)\n`);
  } catch (err) {
    process.stderr.write(`[${who}] ${stale}, and building dist/ failed (${err.message.split('\n')[0]}); running the TypeScript sources through tsx (slower start). Run npm run build:dist to see why.\n`);
  }
  return null;
}
