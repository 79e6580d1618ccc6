/**
 * The embedded catalog server after a first start: it creates the database, then serves it from a fresh
 * process, so PGlite's initdb heap (~900 MiB) is not kept for the life of the server; and a process that
 * outlives its catalog server (it stopped when idle, or died) gets a new one on its next connection; and
 * connections that other processes open and drop never stall one that holds a transaction.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, statSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCatalog } from '../../db/client';
import { embeddedPaths } from '../../db/paths';
import { pidAlive } from '../../db/pid-alive';
import { pgliteBundlePath } from '../../db/pglite-bundle';
import { catalogStopped } from '../support/catalog-stop';
import { runCli } from '../support/cli';
import { makeEnv, type TestEnv } from '../support/engine-env';

describe('embedded catalog server', () => {
  let t: TestEnv;
  afterAll(async () => t?.cleanup());

  it('serves a new database unpacked from the installed template, in one process well under the initdb peak, in a private folder', async () => {
    t = await makeEnv('embedded');
    // The first command that creates the installation (a read-only one would exit 4: there is none yet).
    const src = path.join(t.dir, 'src');
    await mkdir(src);
    await writeFile(path.join(src, 'a.txt'), 'a');
    const r = await runCli(['backup', src, '--json'], t.env);
    expect(r.code, r.stderr).toBe(0);
    const log = await readFile(path.join(t.config.data_dir, 'catalog.log'), 'utf8');
    // From the template npm's `prepare` made (db/catalog-template.mjs): no initdb, whose heap grew to ~850 MiB,
    // and no second process (PGlite's own loadDataDir grew it to ~320 MiB).
    expect(log).toMatch(/created the catalog database from the installed template\n/);
    expect(log).not.toMatch(/restarting/);
    expect([...log.matchAll(/catalog server listening on/g)]).toHaveLength(1);
    const pid = Number(/catalog server listening on .* \(pid (\d+)\)/.exec(log)?.[1]);
    const dbDir = embeddedPaths(t.config.data_dir).dbDir;
    expect(statSync(dbDir).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dbDir, 'PG_VERSION')).mode & 0o777).toBe(0o600);
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    // Its peak, creation included (~120 MiB here; ~220 MiB when PGlite unpacked the template itself).
    const peakMiB = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
    expect(peakMiB).toBeGreaterThan(0);
    expect(peakMiB).toBeLessThan(200);
    // It runs with glibc's malloc tunables (server/malloc-tunables.mjs), set in its environment before it started.
    const environ = (await readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
    expect(environ).toEqual(expect.arrayContaining(['MALLOC_ARENA_MAX=2', 'MALLOC_MMAP_THRESHOLD_=4194304']));
    // PGlite's 6 MB bundle of share files is a mapping of the installed file (db/pglite-bundle.ts), not a
    // copy in its memory: only the pages the server reads are resident.
    const maps = await readFile(`/proc/${pid}/maps`, 'utf8');
    expect(maps).toContain(pgliteBundlePath());
  });

  const serverPid = async () =>
    Number([...(await readFile(path.join(t.config.data_dir, 'catalog.log'), 'utf8')).matchAll(/catalog server listening on .* \(pid (\d+)\)/g)].at(-1)?.[1]);

  it('a long-lived process whose catalog server went away starts a new one on its next query', async () => {
    const catalog = await openCatalog({ dataDir: t.config.data_dir });
    try {
      expect((await catalog.pool.query('SELECT count(*)::int AS n FROM backups')).rows[0]).toEqual({ n: 1 });
      const first = await serverPid();
      process.kill(first, 'SIGTERM'); // as when it stops after its idle time
      expect(await catalogStopped(t.config.data_dir)).toBe(true);
      expect(existsSync(embeddedPaths(t.config.data_dir).socketDir)).toBe(false); // its folder in the temp dir went with it
      await new Promise((r) => setTimeout(r, 200)); // the pool drops the connection the server closed
      expect((await catalog.pool.query('SELECT count(*)::int AS n FROM backups')).rows[0]).toEqual({ n: 1 });
      expect(await serverPid()).not.toBe(first);
    } finally {
      await catalog.close();
    }
  });

  it('a catalog server killed outright (socket and lock left behind) is replaced on the next query', async () => {
    const catalog = await openCatalog({ dataDir: t.config.data_dir });
    try {
      expect((await catalog.pool.query('SELECT count(*)::int AS n FROM backups')).rows[0]).toEqual({ n: 1 });
      const first = await serverPid();
      process.kill(first, 'SIGKILL');
      for (const end = Date.now() + 10_000; pidAlive(first) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 50));
      expect(pidAlive(first)).toBe(false);
      expect(existsSync(embeddedPaths(t.config.data_dir).socketPath)).toBe(true); // nothing cleaned up after it
      await new Promise((r) => setTimeout(r, 200));
      expect((await catalog.pool.query('SELECT count(*)::int AS n FROM backups')).rows[0]).toEqual({ n: 1 });
      expect(await serverPid()).not.toBe(first);
    } finally {
      await catalog.close();
    }
  });

  it('connections opened and dropped by other processes never stall, break or undo a transaction in progress', async () => {
    const catalog = await openCatalog({ dataDir: t.config.data_dir, poolSize: 4 });
    const server = await serverPid();
    // Two processes connect and drop in a loop: without a word (as ensureEmbeddedServer's probe does), after a
    // startup packet without a user name (PGlite would exit on it), or after a good one (dropped while served).
    const socketPath = embeddedPaths(t.config.data_dir).socketPath;
    const script = `const net=require('node:net');const p=process.argv[1];let n=0;
      const startup=(params)=>{const b=Buffer.from(params+'\\0');const m=Buffer.alloc(8+b.length);m.writeInt32BE(m.length,0);m.writeInt32BE(196608,4);b.copy(m,8);return m};
      (function go(){const s=net.connect(p);s.once('connect',()=>{const k=n++%3;if(k===1)s.write(startup(''));if(k===2)s.write(startup('user\\0postgres\\0'));setTimeout(()=>{s.destroy();go()},k)});s.once('error',()=>setImmediate(go))})()`;
    const probers = [0, 1].map(() => spawn(process.execPath, ['-e', script, socketPath], { stdio: 'ignore' }));
    try {
      await catalog.pool.query('CREATE TABLE mux_probe (k int, round int)');
      for (let round = 0; round < 60; round++) {
        const deadline = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`round ${round} stalled`)), 10_000));
        const rounds = [0, 1, 2].map(async (k) => {
          const c = await catalog.pool.connect();
          try {
            await c.query('BEGIN');
            await c.query('INSERT INTO mux_probe VALUES ($1, $2)', [k, round]);
            await c.query('SELECT pg_sleep(0.002)');
            const r = await c.query('SELECT count(*)::int AS n FROM mux_probe WHERE round = $1 AND k = $2', [round, k]);
            await c.query('COMMIT');
            return r.rows[0].n as number;
          } finally {
            c.release();
          }
        });
        expect(await Promise.race([Promise.all(rounds), deadline])).toEqual([1, 1, 1]);
      }
      // Every transaction committed (none was rolled back by another connection's departure), and the server
      // that started the test still serves.
      expect((await catalog.pool.query('SELECT count(*)::int AS n FROM mux_probe')).rows[0]).toEqual({ n: 180 });
      expect(await serverPid()).toBe(server);
      expect(await readFile(path.join(t.config.data_dir, 'catalog.log'), 'utf8')).toMatch(/refused: no PostgreSQL user name specified/);
    } finally {
      for (const p of probers) p.kill();
      await catalog.pool.query('DROP TABLE IF EXISTS mux_probe').catch(() => undefined);
      await catalog.close();
    }
  });

  it('a connection idle in a transaction while others wait is ended and rolled back, instead of freezing the installation', async () => {
    process.kill(await serverPid(), 'SIGTERM');
    expect(await catalogStopped(t.config.data_dir)).toBe(true);
    process.env.PLEXICHAT_CATALOG_TX_IDLE_MS = '1500'; // read by the catalog server the next connection starts
    const catalog = await openCatalog({ dataDir: t.config.data_dir, poolSize: 2 });
    try {
      await catalog.pool.query('CREATE TABLE mux_idle (x int)');
      const stuck = await catalog.pool.connect();
      const errors: Error[] = [];
      stuck.on('error', (err) => errors.push(err));
      await stuck.query('BEGIN');
      await stuck.query('INSERT INTO mux_idle VALUES (1)');
      // The client now stops talking (a process suspended with Ctrl-Z, or hung) while another one needs the catalog.
      const started = Date.now();
      const other = await catalog.pool.query('SELECT count(*)::int AS n FROM mux_idle');
      const waited = Date.now() - started;
      expect(other.rows[0]).toEqual({ n: 0 }); // the stuck transaction was rolled back, not committed
      expect(waited).toBeGreaterThanOrEqual(1_000);
      expect(waited).toBeLessThan(10_000);
      await expect(stuck.query('COMMIT')).rejects.toThrow();
      stuck.release(true);
      expect(errors.map((e) => e.message).join()).toMatch(/idle-in-transaction timeout|terminat/);
      expect(await readFile(path.join(t.config.data_dir, 'catalog.log'), 'utf8')).toMatch(/ended: idle in a transaction for \d+ s while 1 other connection\(s\) waited/);
      // A client in a transaction that nobody waits for is left alone.
      const alone = await catalog.pool.connect();
      await alone.query('BEGIN');
      await alone.query('INSERT INTO mux_idle VALUES (2)');
      await new Promise((r) => setTimeout(r, 2_500));
      await alone.query('COMMIT');
      alone.release();
      expect((await catalog.pool.query('SELECT count(*)::int AS n FROM mux_idle')).rows[0]).toEqual({ n: 1 });
    } finally {
      delete process.env.PLEXICHAT_CATALOG_TX_IDLE_MS;
      await catalog.pool.query('DROP TABLE IF EXISTS mux_idle').catch(() => undefined);
      await catalog.close();
    }
  });

  it('gives each connection named prepared statements of its own in the one shared session, deallocated when it goes', async () => {
    const catalog = await openCatalog({ dataDir: t.config.data_dir, poolSize: 2 });
    const prepared = async () => (await catalog.pool.query(`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE name LIKE '%plexichat_test'`)).rows[0].n as number;
    try {
      const a = await catalog.pool.connect();
      const b = await catalog.pool.connect();
      // pg prepares a named statement once per connection and then only binds it: the same name, two texts.
      for (let i = 0; i < 2; i++) {
        expect((await a.query({ name: 'plexichat_test', text: 'SELECT $1::int + 1 AS v', values: [i] })).rows).toEqual([{ v: i + 1 }]);
        expect((await b.query({ name: 'plexichat_test', text: "SELECT $1::text || '!' AS v", values: [`b${i}`] })).rows).toEqual([{ v: `b${i}!` }]);
      }
      b.release();
      expect(await prepared()).toBe(2);
      a.release(true); // its connection closed
      const until = Date.now() + 5000;
      while ((await prepared()) > 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      expect(await prepared()).toBe(1);
    } finally {
      await catalog.close();
    }
  });

  it('serves each connection its own answers while several run extended-protocol exchanges at once, a failed statement failing alone', async () => {
    // The server hands a connection's queued Bind/Describe/Execute/Sync to PGlite in one call: other connections'
    // messages queued between them must wait for the next turn, and an error skips only to its own Sync.
    const catalog = await openCatalog({ dataDir: t.config.data_dir, poolSize: 4 });
    try {
      const clients = await Promise.all([0, 1, 2, 3].map(() => catalog.pool.connect()));
      const runs = clients.map(async (c, k) => {
        const got: unknown[] = [];
        for (let i = 0; i < 40; i++) {
          if (i % 10 === 7) {
            // Division by zero at Execute: this exchange fails, the next one of this connection is answered.
            await expect(c.query({ name: `plexichat_div_${k}`, text: 'SELECT 1 / $1::int AS v', values: [0] })).rejects.toThrow(/division by zero/);
            continue;
          }
          got.push((await c.query({ name: `plexichat_sum_${k}`, text: `SELECT $1::int * 100 + ${k} AS v, $2::text AS t`, values: [i, `c${k}-${i}`] })).rows[0]);
        }
        await c.query('BEGIN');
        await c.query({ text: 'SELECT $1::int AS v', values: [k] });
        await c.query('COMMIT');
        return got;
      });
      const results = await Promise.all(runs);
      results.forEach((got, k) =>
        expect(got).toEqual(
          Array.from({ length: 40 }, (_, i) => i)
            .filter((i) => i % 10 !== 7)
            .map((i) => ({ v: i * 100 + k, t: `c${k}-${i}` })),
        ),
      );
      for (const c of clients) c.release();
    } finally {
      await catalog.close();
    }
  });

  it("answers each connection on its own socket when one's exchange is left open while another's arrives whole", async () => {
    // Raw protocol, so that the messages arrive exactly so: while a third connection's pg_sleep holds the
    // server, A sends Parse and Bind of an exchange it has not finished, then B a whole exchange. B waits for A's
    // Sync (the session is A's until then), and each gets its own row and one ReadyForQuery.
    const socketPath = embeddedPaths(t.config.data_dir).socketPath;
    const msg = (type: string, ...parts: Buffer[]) => {
      const body = Buffer.concat(parts);
      const head = Buffer.alloc(5);
      head.write(type, 0);
      head.writeInt32BE(body.length + 4, 1);
      return Buffer.concat([head, body]);
    };
    const cstr = (v: string) => Buffer.from(`${v}\0`);
    const int16 = (...v: number[]) => Buffer.from(v.flatMap((x) => [(x >> 8) & 255, x & 255]));
    const parse = (sql: string) => msg('P', cstr(''), cstr(sql), int16(0));
    const bind = () => msg('B', cstr(''), cstr(''), int16(0, 0, 0));
    const execute = () => msg('E', cstr(''), Buffer.alloc(4));
    const sync = () => msg('S');
    const open = async () => {
      const sock = createConnection(socketPath);
      let got = Buffer.alloc(0);
      sock.on('data', (d) => (got = Buffer.concat([got, d])));
      const params = Buffer.from('user\0postgres\0database\0template1\0\0');
      const startup = Buffer.alloc(8);
      startup.writeInt32BE(8 + params.length, 0);
      startup.writeInt32BE(196608, 4);
      sock.write(Buffer.concat([startup, params]));
      /** The messages received so far, as [type, body] (a ReadyForQuery 'Z' ends each exchange). */
      const messages = () => {
        const out: [string, Buffer][] = [];
        for (let o = 0; o + 5 <= got.length; ) {
          const len = got.readInt32BE(o + 1);
          out.push([String.fromCharCode(got[o]!), got.subarray(o + 5, o + 1 + len)]);
          o += 1 + len;
        }
        return out;
      };
      const readyCount = () => messages().filter(([t]) => t === 'Z').length;
      const until = async (n: number) => {
        const end = Date.now() + 10_000;
        while (readyCount() < n && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
        return readyCount() >= n;
      };
      await until(1);
      return { sock, messages, until, clear: () => (got = Buffer.alloc(0)) };
    };
    const [a, b, c] = [await open(), await open(), await open()];
    try {
      for (const x of [a, b, c]) x.clear();
      c.sock.write(msg('Q', cstr('SELECT pg_sleep(0.6)')));
      await new Promise((r) => setTimeout(r, 150));
      a.sock.write(Buffer.concat([parse("SELECT 'from-a' AS v"), bind()]));
      await new Promise((r) => setTimeout(r, 150));
      b.sock.write(Buffer.concat([parse("SELECT 'from-b' AS v"), bind(), execute(), sync()]));
      await new Promise((r) => setTimeout(r, 700));
      a.sock.write(Buffer.concat([execute(), sync()]));
      expect(await a.until(1)).toBe(true);
      expect(await b.until(1)).toBe(true);
      const rows = (x: typeof a) => x.messages().filter(([t]) => t === 'D').map(([, body]) => body.subarray(6).toString());
      expect(rows(a)).toEqual(['from-a']);
      expect(rows(b)).toEqual(['from-b']);
      expect(a.messages().filter(([t]) => t === 'Z')).toHaveLength(1);
      expect(b.messages().filter(([t]) => t === 'Z')).toHaveLength(1);
      expect(await c.until(1)).toBe(true);
    } finally {
      for (const x of [a, b, c]) x.sock.destroy();
    }
  });

  it('refreshes the planner statistics of tables that grew, as autovacuum would: the dedup look-up reads by content id', async () => {
    const catalog = await openCatalog({ dataDir: t.config.data_dir });
    const q = (text: string, values: unknown[] = []) => catalog.pool.query(text, values);
    try {
      // 3,000 shards with one copy each, as a first backup of 3 GiB records them (no statistics yet: PGlite has
      // no autovacuum, and before the catalog server refreshed them the planner kept guessing a few rows).
      await q(`INSERT INTO shards (id, content_id, security_level, key_id, plain_size, stored_size, checksum, compression, encrypted)
               SELECT 'stat-' || g, md5(g::text), 'STANDARD', 'k', 1048576, 1048700, md5('c' || g), 'none', true FROM generate_series(1, 3000) g`);
      await q(`INSERT INTO shard_replicas (shard_id, location, state) SELECT 'stat-' || g, 'local', 'ok' FROM generate_series(1, 3000) g`);
      const analyzed = async () =>
        (await q(`SELECT relname FROM pg_stat_user_tables WHERE relname IN ('shards', 'shard_replicas') AND last_analyze IS NOT NULL ORDER BY relname`)).rows.map((r) => r.relname);
      // The server checks at most once a second, between statements and when its clients pause.
      const until = Date.now() + 10_000;
      while ((await analyzed()).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      expect(await analyzed()).toEqual(['shard_replicas', 'shards']);
      // The shape of repository/pg-shard-index.ts lookupMany: a few content ids among thousands of shards.
      const plan = (
        await q(`EXPLAIN SELECT DISTINCT ON (s.content_id) s.id FROM shards s
                 WHERE s.content_id IN ($1, $2, $3) AND s.security_level = 'STANDARD' AND s.checksum <> 'unverified'
                   AND EXISTS (SELECT 1 FROM shard_replicas r WHERE r.shard_id = s.id AND r.state = 'ok')
                 ORDER BY s.content_id, s.created_at`, [md5(7), md5(70), 'not stored'])
      ).rows.map((r) => r['QUERY PLAN'] as string).join('\n');
      expect(plan).toMatch(/shards_content_idx/);
      expect(plan).not.toMatch(/Seq Scan on shard_replicas/);
    } finally {
      await q(`DELETE FROM shards WHERE id LIKE 'stat-%'`).catch(() => undefined);
      await catalog.close();
    }
  });

  it('vacuums as autovacuum would: the rows inserted, then the dead rows that updates leave (each dedup hit updates its shard row)', async () => {
    const catalog = await openCatalog({ dataDir: t.config.data_dir });
    const q = (text: string, values: unknown[] = []) => catalog.pool.query(text, values);
    try {
      await q(`INSERT INTO shards (id, content_id, security_level, key_id, plain_size, stored_size, checksum, compression, encrypted)
               SELECT 'vac-' || g, md5('v' || g), 'STANDARD', 'k', 1048576, 1048700, md5('c' || g), 'none', true FROM generate_series(1, 2000) g`);
      const vacuumed = async () => (await q(`SELECT vacuum_count::int AS n FROM pg_stat_user_tables WHERE relname = 'shards'`)).rows[0].n as number;
      const waitFor = async (ok: () => Promise<boolean>) => {
        const until = Date.now() + 10_000;
        while (!(await ok()) && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
      };
      await waitFor(async () => (await vacuumed()) > 0); // 2,000 rows inserted: past 1,000 + 20 %
      const before = await vacuumed();
      expect(before).toBeGreaterThan(0);
      // Two rounds of what every dedup hit does to its shard (pg-shard-index.ts): a new row version each.
      for (let i = 0; i < 2; i++) await q(`UPDATE shards SET gc_marked_at = NULL WHERE id LIKE 'vac-%'`);
      const dead = async () => (await q(`SELECT n_dead_tup::int AS n FROM pg_stat_user_tables WHERE relname = 'shards'`)).rows[0].n as number;
      await waitFor(async () => (await vacuumed()) > before && (await dead()) < 50);
      expect(await vacuumed()).toBeGreaterThan(before);
      expect(await dead()).toBeLessThan(50);
    } finally {
      await q(`DELETE FROM shards WHERE id LIKE 'vac-%'`).catch(() => undefined);
      await catalog.close();
    }
  });
});

describe('embedded catalog server, its data dir deleted underneath it', () => {
  it('stops and leaves no socket folder in the temp dir behind', async () => {
    const t = await makeEnv('embedded');
    try {
      const catalog = await openCatalog({ dataDir: t.config.data_dir });
      let pid: number;
      try {
        await catalog.pool.query('SELECT 1');
        pid = Number((await readFile(embeddedPaths(t.config.data_dir).lockFile, 'utf8')).trim());
        expect(pidAlive(pid)).toBe(true);
        expect(existsSync(embeddedPaths(t.config.data_dir).socketDir)).toBe(true);
      } finally {
        await catalog.close();
      }
      // As tests do when they clean up: the data dir goes, lock file and all, while its server runs.
      await rm(t.config.data_dir, { recursive: true, force: true });
      for (const end = Date.now() + 15_000; pidAlive(pid) && Date.now() < end; ) await new Promise((r) => setTimeout(r, 100));
      expect(pidAlive(pid)).toBe(false);
      expect(existsSync(embeddedPaths(t.config.data_dir).socketDir)).toBe(false);
    } finally {
      await t.cleanup();
    }
  });
});

describe('embedded catalog server, a catalog folder it did not finish or made open to others', () => {
  it('sets an unfinished catalog folder aside (never deletes it) and makes the new one; closes an open folder to others', async () => {
    const t = await makeEnv('embedded');
    try {
      const { dbDir } = embeddedPaths(t.config.data_dir);
      await mkdir(dbDir, { recursive: true });
      await writeFile(path.join(dbDir, 'left-over'), 'not a cluster'); // no PG_VERSION: a creation cut short
      const catalog = await openCatalog({ dataDir: t.config.data_dir });
      try {
        expect((await catalog.pool.query('SELECT count(*)::int AS n FROM backups')).rows[0]).toEqual({ n: 0 });
      } finally {
        await catalog.close();
      }
      const aside = (await readdir(t.config.data_dir)).filter((n) => n.startsWith('catalog.incomplete-'));
      expect(aside).toHaveLength(1);
      expect(await readFile(path.join(t.config.data_dir, aside[0]!, 'left-over'), 'utf8')).toBe('not a cluster');
      const log = await readFile(path.join(t.config.data_dir, 'catalog.log'), 'utf8');
      expect(log).toContain(`${dbDir} held no complete catalog (no PG_VERSION); moved to ${path.join(t.config.data_dir, aside[0]!)}`);

      // A catalog that PGlite unpacked before session 27 (folders 0755, files 0666): its folder is closed at start.
      const pid = Number((await readFile(embeddedPaths(t.config.data_dir).lockFile, 'utf8')).trim());
      process.kill(pid, 'SIGTERM');
      expect(await catalogStopped(t.config.data_dir)).toBe(true);
      await chmod(dbDir, 0o755);
      const again = await openCatalog({ dataDir: t.config.data_dir });
      try {
        await again.pool.query('SELECT 1');
      } finally {
        await again.close();
      }
      expect(statSync(dbDir).mode & 0o777).toBe(0o700);
    } finally {
      await t.cleanup();
    }
  });
});

function md5(n: number): string {
  return createHash('md5').update(String(n)).digest('hex');
}
