/**
 * The project's own native addons (native/<name>, built by `npm ci` through scripts/build-native.mjs): each is
 * an optimisation, so a missing one (not Linux, no compiler at install) is null and the engine does without.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { APP_ROOT } from '../../db/paths';

/** native/<name>'s exports, loaded from the application's root; null where it was not built or does not load. */
export function loadAddon<T>(name: string): T | null {
  try {
    // Resolved at run time from the application's root (Next's bundler must not try to bundle it).
    const file = path.join(/* turbopackIgnore: true */ APP_ROOT, 'native', name, 'build', 'Release', `${name}.node`);
    return createRequire(path.join(/* turbopackIgnore: true */ APP_ROOT, 'package.json'))(file) as T;
  } catch {
    return null;
  }
}
