/**
 * Waits for the embedded catalog daemon of a data dir to exit: it stops by itself PLEXICHAT_CATALOG_IDLE_MS
 * after its last client and removes `<data_dir>/catalog.lock` as it goes. Polling the lock instead of sleeping
 * a fixed time lets a test end as soon as the daemon has; a daemon still there after `ms` is left to its timer.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export async function catalogStopped(dataDir: string, ms = 15_000): Promise<boolean> {
  const lock = path.join(dataDir, 'catalog.lock');
  for (const end = Date.now() + ms; Date.now() < end; ) {
    if (!existsSync(lock)) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}
