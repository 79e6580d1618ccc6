/**
 * The embedded catalog server: one process owns the PGlite database (PGlite is single-process) and serves
 * it over a private Unix socket speaking the PostgreSQL wire protocol, so the console, the CLI and workers
 * all use the ordinary `pg` driver — the same code path as a real PostgreSQL server.
 *
 * PGlite has one session, so connections are multiplexed with a strict rule: once a connection starts an
 * extended-protocol sequence or a transaction, only that connection is served until it reaches Sync/Query
 * with no open transaction. No other connection's statement can run inside someone else's transaction.
 */
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import { loadTemplate } from './catalog-template.mjs';
import { APP_ROOT, embeddedPaths, MIGRATIONS_DIR } from './paths';
import { pidAlive } from './pid-alive';

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;

/**
 * PostgreSQL settings of the catalog process, added to PGlite's own start parameters. The default
 * shared_buffers (128 MB) is allocated and touched inside PGlite's WebAssembly heap at start, so it was a
 * third of the server's resident memory; the catalog's files are read through the OS page cache anyway, and
 * 8 MB measured no slower for backups of 300 MiB and of 50,000 files (docs/operations.md, "Memory").
 */
export const CATALOG_SERVER_SETTINGS = ['shared_buffers=8MB', 'wal_buffers=512kB', 'temp_buffers=1MB', 'maintenance_work_mem=8MB'];

interface Pending {
  conn: Connection;
  message: Uint8Array;
  kind: string; // message type byte, or 'startup'
}

interface Connection {
  id: number;
  socket: Socket;
  buffer: Buffer;
  started: boolean;
  closed: boolean;
}

export interface EmbeddedServerOptions {
  dataDir: string;
  /** Exit after this many ms with no client connected (0 = never). */
  idleMs: number;
  log?: (msg: string) => void;
}

/**
 * What runEmbeddedServer did: serving, or — after creating a new database — stopped so that the caller starts
 * a fresh process: PGlite's initdb grows the WebAssembly heap to ~900 MiB, and a heap never shrinks, while a
 * process opening an existing database needs ~400 MiB.
 */
export type EmbeddedServer = { stop: () => Promise<void>; restart?: false } | { restart: true };

export async function runEmbeddedServer(opts: EmbeddedServerOptions & { restartAfterInit?: boolean }): Promise<EmbeddedServer> {
  const log = opts.log ?? (() => undefined);
  const paths = embeddedPaths(opts.dataDir);
  mkdirSync(path.dirname(paths.dbDir), { recursive: true });
  mkdirSync(paths.socketDir, { recursive: true, mode: 0o700 });
  acquireLock(paths.lockFile);

  let db: PGlite;
  const fresh = !existsSync(path.join(paths.dbDir, 'PG_VERSION'));
  try {
    // A new catalog unpacks the template made at install time (catalog-template.mjs) instead of running initdb.
    const template = fresh ? loadTemplate(APP_ROOT) : null;
    db = await PGlite.create(paths.dbDir, { ...(template ? { loadDataDir: template } : {}), startParams: [...PGlite.defaultStartParams, ...CATALOG_SERVER_SETTINGS.flatMap((s) => ['-c', s])] });
    await migrate(drizzle(db), { migrationsFolder: MIGRATIONS_DIR });
    if (fresh && opts.restartAfterInit) {
      await db.close();
      rmSync(paths.lockFile, { force: true });
      log(`created the catalog database (${template ? 'from the installed template' : 'by initdb: no template for this PGlite in dist/'}); restarting to release the memory its creation used`);
      return { restart: true };
    }
  } catch (err) {
    rmSync(paths.lockFile, { force: true });
    throw err;
  }

  const queue: Pending[] = [];
  const connections = new Set<Connection>();
  let owner: Connection | null = null;
  let processing = false;
  let nextId = 1;
  let idleTimer: NodeJS.Timeout | undefined;

  const pump = async (): Promise<void> => {
    if (processing) return;
    processing = true;
    try {
      for (;;) {
        const idx = owner ? queue.findIndex((p) => p.conn === owner) : 0;
        if (idx < 0 || queue.length === 0) break;
        const item = queue.splice(idx, 1)[0]!;
        if (item.conn.closed) continue;
        owner = item.conn;
        try {
          await db.execProtocolRawStream(item.message, {
            onRawData: (data) => {
              if (!item.conn.closed && data.length > 0) item.conn.socket.write(Buffer.from(data));
            },
          });
        } catch (err) {
          log(`connection ${item.conn.id}: ${(err as Error).message}`);
        }
        const boundary = item.kind === 'S' || item.kind === 'Q' || item.kind === 'startup';
        if (boundary && !db.isInTransaction()) owner = null;
      }
    } finally {
      processing = false;
    }
  };

  const release = async (conn: Connection): Promise<void> => {
    conn.closed = true;
    connections.delete(conn);
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.conn === conn) queue.splice(i, 1);
    if (owner === conn) {
      // Wait for the queue runner to finish the connection's in-flight message, then undo its transaction.
      while (processing) await new Promise((r) => setTimeout(r, 5));
      if (db.isInTransaction()) await db.exec('ROLLBACK').catch(() => undefined);
      owner = null;
    }
    armIdle();
    void pump();
  };

  const onData = (conn: Connection, chunk: Buffer): void => {
    conn.buffer = conn.buffer.length ? Buffer.concat([conn.buffer, chunk]) : chunk;
    for (;;) {
      const buf = conn.buffer;
      if (!conn.started) {
        if (buf.length < 8) return;
        const len = buf.readInt32BE(0);
        if (buf.length < len) return;
        const code = buf.readInt32BE(4);
        conn.buffer = buf.subarray(len);
        if (code === SSL_REQUEST) {
          conn.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          conn.socket.end();
          return;
        }
        conn.started = true;
        queue.push({ conn, message: new Uint8Array(buf.subarray(0, len)), kind: 'startup' });
        continue;
      }
      if (buf.length < 5) break;
      const len = buf.readInt32BE(1) + 1;
      if (buf.length < len) break;
      const kind = String.fromCharCode(buf[0]!);
      const message = new Uint8Array(buf.subarray(0, len));
      conn.buffer = buf.subarray(len);
      if (kind === 'X') {
        conn.socket.end();
        void release(conn);
        return;
      }
      queue.push({ conn, message, kind });
    }
    void pump();
  };

  const armIdle = (): void => {
    if (idleTimer) clearTimeout(idleTimer);
    if (opts.idleMs > 0 && connections.size === 0) {
      idleTimer = setTimeout(() => {
        if (connections.size === 0) void stop();
      }, opts.idleMs);
    }
  };

  const server = createServer((socket) => {
    const conn: Connection = { id: nextId++, socket, buffer: Buffer.alloc(0), started: false, closed: false };
    connections.add(conn);
    if (idleTimer) clearTimeout(idleTimer);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => onData(conn, chunk));
    socket.on('error', () => void release(conn));
    socket.on('close', () => void release(conn));
  });

  rmSync(paths.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(paths.socketPath, () => resolve());
  });
  log(`catalog server listening on ${paths.socketPath} (pid ${process.pid})`);
  armIdle();
  // If the data dir is removed or taken over underneath us, stop serving a catalog that no longer exists.
  const watchdog = setInterval(() => {
    if (readOwner(paths.lockFile) !== String(process.pid)) {
      log('catalog lock file is gone or taken over; stopping');
      void stop();
    }
  }, 2000);
  watchdog.unref();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(watchdog);
      if (idleTimer) clearTimeout(idleTimer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of connections) c.socket.destroy();
      });
      while (processing) await new Promise((r) => setTimeout(r, 5));
      await db.close();
      rmSync(paths.socketPath, { force: true });
      if (readOwner(paths.lockFile) === String(process.pid)) rmSync(paths.lockFile, { force: true });
      log('catalog server stopped');
    })());
  return { stop };
}

function readOwner(lockFile: string): string {
  try {
    return readFileSync(lockFile, 'utf8').trim();
  } catch {
    return '';
  }
}

/** One owner per database directory: a lock file holding the owner's pid; a dead owner's lock is taken over. */
function acquireLock(lockFile: string): void {
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(lockFile, 'utf8').trim());
      if (pid && pidAlive(pid)) throw new CatalogLockedError(pid);
      rmSync(lockFile, { force: true });
    }
  }
  throw new Error(`could not take the catalog lock ${lockFile}`);
}

export class CatalogLockedError extends Error {
  constructor(readonly pid: number) {
    super(`the embedded catalog is already served by process ${pid}`);
  }
}

