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
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmdirSync, rmSync, writeSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import path from 'node:path';
import { unpackTemplate } from './catalog-template.mjs';
import { APP_ROOT, embeddedPaths, MIGRATIONS_DIR } from './paths';
import { mappedFsBundle } from './pglite-bundle';
import { pidAlive } from './pid-alive';
import { deallocate, scopeStatementName } from './statement-names';

const SSL_REQUEST = 80877103;
const CANCEL_REQUEST = 80877102;
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);

/**
 * PostgreSQL settings of the catalog process, added to PGlite's own start parameters. The default
 * shared_buffers (128 MB) is allocated and touched inside PGlite's WebAssembly heap at start, so it was a
 * third of the server's resident memory; the catalog's files are read through the OS page cache anyway, and
 * 8 MB measured no slower for backups of 300 MiB and of 50,000 files (docs/operations.md, "Memory").
 * max_connections sizes the shared memory kept for each possible session (its PGPROC, lock and snapshot
 * slots): PGlite has one session, and 2 instead of 100 touched 4 MiB less of that heap at start. The lock
 * table still has room for ~1,000 locks (64 per transaction × 16 slots); the catalog has 74 relations.
 */
export const CATALOG_SERVER_SETTINGS = ['shared_buffers=8MB', 'wal_buffers=512kB', 'temp_buffers=1MB', 'maintenance_work_mem=8MB', 'max_connections=2'];

interface Pending {
  conn: Connection;
  message: Uint8Array;
  /**
   * Message type byte, 'startup', or 'closed': the connection went away while it owned the session (its
   * transaction is undone), or with prepared statements (they are deallocated).
   */
  kind: string;
}

interface Connection {
  id: number;
  socket: Socket;
  buffer: Buffer;
  started: boolean;
  closed: boolean;
  /** Its named prepared statements, by their session-wide names (statement-names.ts): deallocated when it goes. */
  statements: Set<string>;
}

export interface EmbeddedServerOptions {
  dataDir: string;
  /** Exit after this many ms with no client connected (0 = never). */
  idleMs: number;
  /**
   * A connection that holds the session (inside a transaction) and has sent nothing for this long while others
   * wait is ended, as PostgreSQL's idle_in_transaction_session_timeout would: a stopped or hung client must not
   * freeze every other process of the installation. Default 60 s; 0 = never.
   */
  ownerIdleMs?: number;
  log?: (msg: string) => void;
  /** How often, at most, tables are checked for a VACUUM or ANALYZE they need (autovacuum). Default 1 s. */
  autovacuumEveryMs?: number;
}

/**
 * What runEmbeddedServer did: serving, or — after creating a new database — stopped so that the caller starts
 * a fresh process: PGlite's initdb grows the WebAssembly heap to ~900 MiB, and a heap never shrinks, while a
 * process opening an existing database needs ~400 MiB.
 */
export type EmbeddedServer = { stop: () => Promise<void>; /** Settles once the server has stopped, for whatever reason. */ stopped: Promise<void>; restart?: false } | { restart: true };

/**
 * A catalog folder without PG_VERSION is a creation that did not finish: an empty one is removed, anything
 * else is renamed aside (never deleted) for the new catalog to take its place.
 */
function setAsideIncomplete(dbDir: string, log: (msg: string) => void): void {
  if (!existsSync(dbDir)) return;
  if (readdirSync(dbDir).length === 0) return rmdirSync(dbDir);
  const aside = `${dbDir}.incomplete-${Date.now()}`;
  renameSync(dbDir, aside);
  log(`${dbDir} held no complete catalog (no PG_VERSION); moved to ${aside}`);
}

export async function runEmbeddedServer(opts: EmbeddedServerOptions & { restartAfterInit?: boolean }): Promise<EmbeddedServer> {
  const log = opts.log ?? (() => undefined);
  const paths = embeddedPaths(opts.dataDir);
  mkdirSync(path.dirname(paths.dbDir), { recursive: true });
  acquireLock(paths.lockFile);
  // Made and removed (stop) only by the holder of the lock: a server stopping never removes the folder of one starting.
  mkdirSync(paths.socketDir, { recursive: true, mode: 0o700 });

  let db: PGlite;
  // A catalog folder without PG_VERSION holds no complete cluster: a new one is made (template, else initdb).
  let initdb = !existsSync(path.join(paths.dbDir, 'PG_VERSION'));
  try {
    if (initdb) {
      setAsideIncomplete(paths.dbDir, log);
      // A new catalog is the template made at install time (catalog-template.mjs), unpacked as plain files and
      // opened like any other; initdb only when there is none for this PGlite, or it cannot be read.
      try {
        if (await unpackTemplate(APP_ROOT, paths.dbDir)) {
          initdb = false;
          log('created the catalog database from the installed template');
        }
      } catch (err) {
        log(`${(err as Error).message}; creating the catalog by initdb instead`);
      }
    }
    db = await PGlite.create(paths.dbDir, {
      startParams: [...PGlite.defaultStartParams, ...CATALOG_SERVER_SETTINGS.flatMap((s) => ['-c', s])],
      fsBundle: mappedFsBundle(log),
    });
    // The catalog is this process's alone. PGlite writes its files 0666 whatever the umask (its initdb, and its
    // loadDataDir that unpacked the template until session 27): the folder keeps others out of them.
    chmodSync(paths.dbDir, 0o700);
    await migrate(drizzle(db), { migrationsFolder: MIGRATIONS_DIR });
    if (initdb && opts.restartAfterInit) {
      await db.close();
      rmSync(paths.lockFile, { force: true });
      log('created the catalog database by initdb (no usable template for this PGlite in dist/); restarting to release the memory its creation used');
      return { restart: true };
    }
  } catch (err) {
    rmSync(paths.lockFile, { force: true });
    throw err;
  }

  const queue: Pending[] = [];
  const connections = new Set<Connection>();
  let owner: Connection | null = null;
  /** When the owner's last message was served: the time it has kept the others waiting since. */
  let ownerServedAt = 0;
  let processing = false;
  let nextId = 1;
  let idleTimer: NodeJS.Timeout | undefined;
  const autovacuumEveryMs = opts.autovacuumEveryMs ?? 1000;
  let autovacuumAt = 0;
  let autovacuumTimer: NodeJS.Timeout | undefined;

  const pump = async (): Promise<void> => {
    if (processing) return;
    processing = true;
    let served = false;
    try {
      for (;;) {
        // Between two clients' statements, never inside a transaction or an extended-protocol exchange.
        if (!owner && !db.isInTransaction() && Date.now() - autovacuumAt >= autovacuumEveryMs) {
          autovacuumAt = Date.now();
          await autovacuum(db, log);
        }
        const idx = owner ? queue.findIndex((p) => p.conn === owner) : 0;
        if (idx < 0 || queue.length === 0) break;
        const item = queue.splice(idx, 1)[0]!;
        if (item.kind === 'closed') {
          // Its transaction, if any, is undone here, in turn: never beside another connection's statement.
          if (owner === item.conn) {
            // A Sync ends an extended-protocol exchange it left half-way; a ROLLBACK then ends its transaction.
            await db.execProtocolRawStream(SYNC, { onRawData: () => undefined }).catch(() => undefined);
            if (db.isInTransaction()) await db.exec('ROLLBACK').catch((err: Error) => log(`connection ${item.conn.id}: rollback: ${err.message}`));
            owner = null;
          }
          // A name whose Parse failed was never made: its DEALLOCATE fails, and is ignored.
          for (const name of item.conn.statements) await db.exec(deallocate(name)).catch(() => undefined);
          item.conn.statements.clear();
          continue;
        }
        if (item.conn.closed) continue;
        owner = item.conn;
        served = true;
        const { message, kind } = exchange(queue, idx, item);
        try {
          await db.execProtocolRawStream(message, {
            onRawData: (data) => {
              if (!item.conn.closed && data.length > 0) item.conn.socket.write(Buffer.from(data));
            },
          });
        } catch (err) {
          log(`connection ${item.conn.id}: ${(err as Error).message}`);
          if (/Program terminated/.test((err as Error).message)) {
            // PGlite has exited: nothing can be served. Stop, so that the next client starts a new server.
            log('the database engine exited; stopping the catalog server');
            void stop();
            return;
          }
        }
        if (endsExchange(kind) && !db.isInTransaction()) owner = null;
        ownerServedAt = Date.now();
      }
    } finally {
      processing = false;
    }
    // The statements just served may have changed tables: check once more when the clients pause.
    if (served && !stopping) {
      clearTimeout(autovacuumTimer);
      autovacuumTimer = setTimeout(() => void pump(), autovacuumEveryMs);
      autovacuumTimer.unref();
    }
  };

  /**
   * A connection went away. Its queued messages are dropped; if it owns the session (inside a transaction or an
   * extended-protocol exchange), a 'closed' item in the queue hands the session back once its in-flight message
   * is done. Only the queue runner touches PGlite: a ROLLBACK issued from here, after waiting for the runner to
   * go idle, once undid another connection's transaction that had started meanwhile.
   */
  const release = (conn: Connection): void => {
    if (conn.closed) return;
    conn.closed = true;
    connections.delete(conn);
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i]!.conn === conn) queue.splice(i, 1);
    if (owner === conn) queue.unshift({ conn, message: new Uint8Array(0), kind: 'closed' });
    else if (conn.statements.size) queue.push({ conn, message: new Uint8Array(0), kind: 'closed' });
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
        const refused = refuseStartup(buf.subarray(0, len));
        if (refused) {
          // PGlite answers a bad startup packet as PostgreSQL would, with a FATAL error, and then exits: the
          // one session every client shares would be gone. Such a packet never reaches it.
          log(`connection ${conn.id}: refused: ${refused}`);
          conn.socket.end(fatalError('08P01', refused));
          release(conn);
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
      const scoped = scopeStatementName(new Uint8Array(buf.subarray(0, len)), `c${conn.id}_`);
      const message = scoped.message;
      if (scoped.prepared) conn.statements.add(scoped.prepared);
      if (scoped.closed) conn.statements.delete(scoped.closed);
      conn.buffer = buf.subarray(len);
      if (kind === 'X') {
        conn.socket.end();
        release(conn);
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
    const conn: Connection = { id: nextId++, socket, buffer: Buffer.alloc(0), started: false, closed: false, statements: new Set() };
    connections.add(conn);
    if (idleTimer) clearTimeout(idleTimer);
    socket.setNoDelay(true);
    socket.on('data', (chunk) => onData(conn, chunk));
    socket.on('error', () => release(conn));
    socket.on('close', () => release(conn));
  });

  rmSync(paths.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(paths.socketPath, () => resolve());
  });
  log(`catalog server listening on ${paths.socketPath} (pid ${process.pid})`);
  armIdle();
  const ownerIdleMs = opts.ownerIdleMs ?? 60_000;
  const endIdleOwner = (): void => {
    const held = owner;
    if (!held || processing || ownerIdleMs <= 0 || Date.now() - ownerServedAt < ownerIdleMs) return;
    if (queue.length === 0 || queue.some((p) => p.conn === held)) return;
    const waiting = new Set(queue.map((p) => p.conn.id)).size;
    log(`connection ${held.id}: ended: idle in a transaction for ${Math.round((Date.now() - ownerServedAt) / 1000)} s while ${waiting} other connection(s) waited; its transaction is rolled back`);
    held.socket.end(fatalError('25P03', 'terminating connection due to idle-in-transaction timeout: the embedded catalog serves one transaction at a time, and others were waiting'));
    release(held);
  };
  // If the data dir is removed or taken over underneath us, stop serving a catalog that no longer exists.
  const watchdog = setInterval(() => {
    if (readOwner(paths.lockFile) !== String(process.pid)) {
      log('catalog lock file is gone or taken over; stopping');
      void stop();
      return;
    }
    endIdleOwner();
  }, Math.min(2000, Math.max(100, ownerIdleMs / 4 || 2000)));
  watchdog.unref();

  let stopping: Promise<void> | undefined;
  let markStopped!: () => void;
  const stopped = new Promise<void>((resolve) => (markStopped = resolve));
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      clearInterval(watchdog);
      if (idleTimer) clearTimeout(idleTimer);
      clearTimeout(autovacuumTimer);
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of connections) c.socket.destroy();
      });
      while (processing) await new Promise((r) => setTimeout(r, 5));
      // A PGlite that has exited may never answer close(): the socket and lock go regardless, so clients start anew.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        db.close().catch((err: Error) => log(`closing the database: ${err.message}`)),
        new Promise<void>((resolve) => (timer = setTimeout(() => resolve(log('the database did not close within 10 s')), 10_000))),
      ]);
      clearTimeout(timer);
      rmSync(paths.socketPath, { force: true });
      // The socket's folder in the temp dir goes too: one was left behind for every data dir ever served (a
      // test run made hundreds). Also when the data dir itself was deleted under the server (tests do): no
      // other server can hold a lock there, nor start without making the dir again.
      const owner = readOwner(paths.lockFile);
      if (owner === String(process.pid) || (owner === '' && !existsSync(opts.dataDir))) {
        try {
          rmdirSync(paths.socketDir);
        } catch {
          // not empty (something else put a file there) or already gone: left as it is
        }
        rmSync(paths.lockFile, { force: true });
      }
      log('catalog server stopped');
      markStopped();
    })());
  return { stop, stopped };
}

/**
 * autovacuum's rules with its default settings, which PGlite lacks (it has no autovacuum):
 * - analyze a table changed by more than 50 rows + 10 % of the rows counted at its last ANALYZE. Without this
 *   the planner of a catalog kept its first guesses: a new installation's dedup look-up
 *   (repository/pg-shard-index.ts) read every replica row for each chunk of its first backup, 19 ms per
 *   look-up at 900 shards instead of 0.1 ms, growing with the catalog;
 * - vacuum a table with more than 50 + 20 % dead rows (every dedup hit's UPDATE of `shards` leaves one: the
 *   update is also the row's lock against gc), or 1,000 + 20 % rows inserted since its last VACUUM (that
 *   marks their pages all-visible, so index-only scans and later vacuums skip them). Without this a long-lived
 *   embedded catalog only grew: nothing ever reclaimed a dead row.
 */
const STALE_TABLES = `
  SELECT format('%I.%I', s.schemaname, s.relname) AS name,
         s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0) AS analyze,
         s.n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0) OR s.n_ins_since_vacuum > 1000 + 0.2 * greatest(c.reltuples, 0) AS vacuum,
         s.n_mod_since_analyze AS changed, s.n_dead_tup AS dead
  FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
  WHERE s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0)
     OR s.n_dead_tup > 50 + 0.2 * greatest(c.reltuples, 0)
     OR s.n_ins_since_vacuum > 1000 + 0.2 * greatest(c.reltuples, 0)`;

/** autovacuum's work, which PGlite lacks: VACUUM and ANALYZE of every table that needs them (STALE_TABLES). */
async function autovacuum(db: PGlite, log: (msg: string) => void): Promise<void> {
  try {
    const stale = await db.query<{ name: string; analyze: boolean; vacuum: boolean; changed: string; dead: string }>(STALE_TABLES);
    for (const t of stale.rows) {
      const t0 = performance.now();
      const sql = t.vacuum ? `VACUUM ${t.analyze ? '(ANALYZE) ' : ''}${t.name}` : `ANALYZE ${t.name}`;
      await db.exec(sql);
      const ms = performance.now() - t0;
      if (ms > 1000) log(`${sql}: ${Math.round(ms)} ms (${t.changed} rows changed, ${t.dead} dead)`);
    }
  } catch (err) {
    log(`vacuum and planner statistics: ${(err as Error).message}`);
  }
}

/**
 * `first` (just taken from the queue at `at`) and the messages its connection queued after it, up to the end of
 * the exchange (a Sync, or a simple Query), taken out of the queue: one call to PGlite for Bind, Describe,
 * Execute and Sync instead of four (pg sends them in one write). PGlite runs every message of a call in order,
 * exactly as one by one would, and each call has a cost of its own (the output flushed, the file system
 * synced): 2,000 small look-ups took 0.47–0.53 ms of the server's CPU each, 0.26–0.32 ms batched. Other
 * connections' messages stay queued where they are.
 */
function exchange(queue: Pending[], at: number, first: Pending): { message: Uint8Array; kind: string } {
  if (endsExchange(first.kind)) return first;
  const parts = [first.message];
  let kind = first.kind;
  for (let i = at; i < queue.length && !endsExchange(kind); ) {
    const next = queue[i]!;
    if (next.conn !== first.conn) {
      i++;
      continue;
    }
    if (next.kind === 'closed') break;
    queue.splice(i, 1);
    parts.push(next.message);
    kind = next.kind;
  }
  if (parts.length === 1) return first;
  const message = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    message.set(p, o);
    o += p.length;
  }
  return { message, kind };
}

/** Whether a message of this kind ends an exchange (Sync, a simple Query, the startup packet). */
const endsExchange = (kind: string) => kind === 'S' || kind === 'Q' || kind === 'startup';

/** Why a startup packet is refused (protocol 3.0 with a user name is required), or null. */
export function refuseStartup(packet: Buffer): string | null {
  const major = packet.readInt16BE(4);
  const minor = packet.readInt16BE(6);
  if (major !== 3) return `unsupported frontend protocol ${major}.${minor}: this server speaks 3.0`;
  const fields = packet.subarray(8).toString('utf8').split('\0');
  for (let i = 0; i + 1 < fields.length; i += 2) if (fields[i] === 'user' && fields[i + 1]) return null;
  return 'no PostgreSQL user name specified in startup packet';
}

/** An ErrorResponse of severity FATAL. */
function fatalError(code: string, message: string): Buffer {
  const body = Buffer.concat([Buffer.from(`SFATAL\0VFATAL\0C${code}\0M${message}\0`, 'utf8'), Buffer.from([0])]);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
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

