// Whether the console's Next build is current, and one build at a time: shared by `npm start`
// (bin/start.mjs) and `bin/build-console.mjs` (the test suite builds once before its browser tests start
// consoles in parallel).
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SOURCES = ['app', 'components', 'server', 'db', 'proxy.ts', 'instrumentation.ts', 'next.config.ts', 'postcss.config.mjs', 'package.json', 'package-lock.json', 'tsconfig.json'];

function newestMtime(p) {
  let st;
  try {
    st = statSync(p);
  } catch {
    return 0;
  }
  if (!st.isDirectory()) return st.mtimeMs;
  let max = st.mtimeMs;
  for (const e of readdirSync(p)) if (e !== 'node_modules' && !e.startsWith('.')) max = Math.max(max, newestMtime(path.join(p, e)));
  return max;
}

/** Why the build must be made again, or null when .next is newer than every source. */
export function buildIsStale() {
  const stamp = path.join(root, '.next', 'BUILD_ID');
  if (!existsSync(stamp)) return 'no build found';
  const built = statSync(stamp).mtimeMs;
  const changed = SOURCES.find((s) => newestMtime(path.join(root, s)) > built);
  return changed ? `${changed} changed since the last build` : null;
}

/**
 * One build at a time: a second `npm start` while another one builds waits for it (and then finds the
 * build fresh) instead of writing into the same .next directory. A lock left by a killed build is taken over.
 */
const LOCK = path.join(root, '.next-build.lock');
function alive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}
export async function withBuildLock(fn) {
  for (;;) {
    try {
      mkdirSync(LOCK);
      writeFileSync(path.join(LOCK, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      let holder = 0;
      try {
        holder = Number(readFileSync(path.join(LOCK, 'pid'), 'utf8'));
      } catch {
        // being created or removed; look again
      }
      if (holder && !alive(holder)) rmSync(LOCK, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

/** Builds when stale (under the lock); `run(args)` runs `next <args>` and resolves to its exit code. */
export async function ensureBuild(run, say) {
  if (!buildIsStale()) return 0;
  return withBuildLock(async () => {
    const stale = buildIsStale();
    if (!stale) return 0;
    say(`[start] building the console (${stale}) …`);
    const code = await run(['build']);
    if (code !== 0) say('[start] the build failed; see the errors above.');
    return code;
  });
}
