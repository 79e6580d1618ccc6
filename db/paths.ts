import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The application's root folder (where package.json and db/migrations live). */
export const APP_ROOT = findAppRoot();
export const MIGRATIONS_DIR = path.join(APP_ROOT, 'db', 'migrations');

function findAppRoot(): string {
  if (process.env.PLEXICHAT_APP_ROOT) return process.env.PLEXICHAT_APP_ROOT;
  const starts = [process.cwd()];
  try {
    starts.unshift(path.dirname(fileURLToPath(import.meta.url)));
  } catch {
    // bundled: import.meta.url may not be a file URL
  }
  for (const start of starts) {
    for (let dir = start; ; dir = path.dirname(dir)) {
      if (existsSync(path.join(dir, 'db', 'migrations')) && existsSync(path.join(dir, 'package.json'))) return dir;
      if (path.dirname(dir) === dir) break;
    }
  }
  return process.cwd();
}

/**
 * Where the embedded catalog keeps its files. The socket lives in a short, private (0700) folder under the
 * temp dir, named by a hash of the data dir, because Unix socket paths are limited to ~107 bytes.
 */
export function embeddedPaths(dataDir: string) {
  const hash = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
  const socketDir = path.join(tmpdir(), `plexichat-${hash}`);
  return {
    dbDir: path.join(dataDir, 'catalog'),
    lockFile: path.join(dataDir, 'catalog.lock'),
    logFile: path.join(dataDir, 'catalog.log'),
    socketDir,
    socketPath: path.join(socketDir, '.s.PGSQL.5432'),
  };
}
