/**
 * Opens the catalog: PostgreSQL when DATABASE_URL is set, else the embedded PGlite catalog, reached through
 * its catalog server (started on demand, shared by every process using the same data dir).
 */
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { distEntry } from '../server/dist.mjs';
import { withMallocTunables } from '../server/malloc-tunables.mjs';
import { APP_ROOT, embeddedPaths, MIGRATIONS_DIR } from './paths';
import { pidAlive } from './pid-alive';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema>;

export interface Catalog {
  db: Db;
  pool: pg.Pool;
  /** 'postgres' or 'embedded' */
  mode: 'postgres' | 'embedded';
  close(): Promise<void>;
}

export interface CatalogOptions {
  databaseUrl?: string;
  dataDir: string;
  poolSize?: number;
}

// bigint columns come back as strings by default; our sizes fit easily in a double.
pg.types.setTypeParser(20, (v) => Number(v));

export async function openCatalog(opts: CatalogOptions): Promise<Catalog> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: opts.poolSize ?? 8 });
    pool.on('error', () => undefined); // idle-client errors surface on the next query instead
    await migrateWithLock(pool);
    return { db: drizzle(pool, { schema }), pool, mode: 'postgres', close: () => pool.end() };
  }
  const paths = embeddedPaths(opts.dataDir);
  await ensureEmbeddedServer(opts.dataDir);
  const pool = new pg.Pool({
    Client: catalogClient(opts.dataDir),
    host: paths.socketDir,
    port: 5432,
    user: 'postgres',
    database: 'postgres',
    max: opts.poolSize ?? 4,
    idleTimeoutMillis: 5_000,
  });
  pool.on('error', () => undefined);
  return { db: drizzle(pool, { schema }), pool, mode: 'embedded', close: () => pool.end() };
}

/**
 * The embedded catalog's connections. The catalog server stops PLEXICHAT_CATALOG_IDLE_MS after its last client,
 * and the pool closes connections idle for 5 s, so a long-lived process that goes quiet (a console without its
 * worker) can outlive the server. Each new connection therefore starts a server first when none serves: the
 * socket is gone (a server that stops removes it), or the lock's owner is dead (one killed outright leaves its
 * socket and lock behind). Both are file checks: no probe connection per pool connection.
 */
function catalogClient(dataDir: string): typeof pg.Client {
  const { socketPath, lockFile } = embeddedPaths(dataDir);
  return class CatalogClient extends pg.Client {
    override connect(): Promise<pg.Client>;
    override connect(callback: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): void;
    override connect(callback?: ((err: Error) => void) | ((err: null, c: pg.Client) => void)): Promise<pg.Client> | void {
      const ready = serverLooksAlive(socketPath, lockFile) ? Promise.resolve() : ensureEmbeddedServer(dataDir);
      if (!callback) return ready.then(() => super.connect());
      ready.then(
        () => super.connect(callback),
        (err: Error) => (callback as (err: Error) => void)(err),
      );
    }
  };
}

/** The socket exists and the process named in the catalog lock runs (a pid reused since is not caught here). */
function serverLooksAlive(socketPath: string, lockFile: string): boolean {
  if (!existsSync(socketPath)) return false;
  try {
    const pid = Number(readFileSync(lockFile, 'utf8').trim());
    return pid > 0 && pidAlive(pid);
  } catch {
    return false;
  }
}

async function migrateWithLock(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    // Several processes may start at once (console, workers, CLI): one migrates, the others wait.
    await client.query('SELECT pg_advisory_lock(727274001)');
    try {
      await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_DIR });
    } finally {
      await client.query('SELECT pg_advisory_unlock(727274001)');
    }
  } finally {
    client.release();
  }
}

function canConnect(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Starts the catalog server for this data dir if none answers, and waits until it accepts connections. */
export async function ensureEmbeddedServer(dataDir: string, timeoutMs = 180_000): Promise<void> {
  const paths = embeddedPaths(dataDir);
  if (await canConnect(paths.socketPath)) return;
  mkdirSync(dataDir, { recursive: true });
  const out = openSync(paths.logFile, 'a', 0o600);
  // The compiled daemon when dist/ is current (no TypeScript loader in a process that lives for hours), else the source.
  const compiled = distEntry(APP_ROOT, 'catalog-daemon');
  const entry = compiled ? [compiled] : ['--import', 'tsx', path.join(/* turbopackIgnore: true */ APP_ROOT, 'db', 'catalog-daemon.ts')];
  // A 1 MiB young generation (V8's default grows to 16 MiB per semi-space): the server's JavaScript makes only
  // short-lived message buffers, and its peak during a 700 MiB backup fell from ~146 to ~130 MiB.
  const child = spawn(process.execPath, ['--max-semi-space-size=1', ...entry, path.resolve(dataDir)], {
    cwd: APP_ROOT,
    detached: true,
    stdio: ['ignore', out, out],
    env: withMallocTunables({ ...process.env, PLEXICHAT_APP_ROOT: APP_ROOT }),
  });
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await canConnect(paths.socketPath)) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(
    `The embedded catalog did not start within ${timeoutMs / 1000}s. See ${paths.logFile}; if another PlexiChat process is stuck, stop it and retry.`,
  );
}
