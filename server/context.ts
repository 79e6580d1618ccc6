/**
 * The web server's one BackupEngine, opened lazily on first use and shared by every request. Kept on
 * globalThis so that hot reloading in `next dev` (which re-evaluates modules) never opens a second one.
 */
import type { Db } from '../db/client';
import { ensureFirstAdmin } from './auth/bootstrap';
import { loadConfig } from './config';
import { BackupEngine } from './engine/engine';

const log = (line: string) => console.log(`[plexichat] ${line}`);

type Holder = typeof globalThis & { __plexichatEngine?: Promise<BackupEngine> };
const holder = globalThis as Holder;

async function open(): Promise<BackupEngine> {
  const config = loadConfig();
  const engine = await BackupEngine.open(config, { log });
  await ensureFirstAdmin(engine.catalog.db, {
    email: process.env.PLEXICHAT_ADMIN_EMAIL,
    password: process.env.PLEXICHAT_ADMIN_PASSWORD,
    log,
  });
  log(`backup engine ready (catalog: ${engine.catalog.mode}, ${config.storage_locations.length} storage location(s))`);
  return engine;
}

export function getEngine(): Promise<BackupEngine> {
  if (!holder.__plexichatEngine) {
    const opening = open();
    holder.__plexichatEngine = opening;
    // A failed open is not cached: the next request tries again (e.g. once the database is reachable).
    opening.catch(() => {
      if (holder.__plexichatEngine === opening) holder.__plexichatEngine = undefined;
    });
  }
  return holder.__plexichatEngine;
}

export async function getDb(): Promise<Db> {
  return (await getEngine()).catalog.db;
}
