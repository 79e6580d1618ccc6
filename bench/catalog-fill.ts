/**
 * Fills a catalog with a large installation's rows by bulk SQL (INSERT … SELECT generate_series), not through
 * the engine: 10,000 backups and 1,000,000 shards take a minute instead of days. The rows look like the
 * engine's: ids of the same shape and length, every shard with a replica at each location, each backup
 * referencing its own `refsPerBackup` shards (so backup_shards has backups × refsPerBackup rows), one backup
 * every 50 minutes back from now (10,000 span about a year), a mix of types (a fifth continuous, in 4 source
 * sets, so the list's collapsing of continuous backups has work to do) and 2 % failed.
 *
 * Row i of each table is derived from i alone (md5 of it), so the statements can run in batches with
 * progress, and backup_shards can name shard ids without reading them back.
 */
import type pg from 'pg';

export interface FillSpec {
  backups: number;
  shards: number;
  refsPerBackup: number;
  locations: string[];
  /** A real data key id (the shards' and backups' key_id). */
  keyId: string;
}

const BATCH = 100_000;

/** SQL for the id of bench shard `i` (an integer expression): 64 hex digits of content id, a dot, 8 of suffix — like the engine's. */
const shardId = (i: string) => `md5(${i}::text) || md5((-${i})::text) || '.' || substr(md5('s' || ${i}), 1, 8)`;
/** 50 minutes between two bench backups. */
const EVERY_MS = 50 * 60_000;
/** SQL for the creation time (ms since the epoch) of bench backup `i` of `n`, the newest at `baseMs`. */
const createdMs = (i: string, n: number, baseMs: number) => `(${baseMs}::bigint - (${n} - ${i})::bigint * ${EVERY_MS})`;
/** SQL for the id of bench backup `i`: backup_<ms>_<6 hex>, the engine's shape (from a fixed base: every statement names the same ids). */
const backupId = (i: string, n: number, baseMs: number) => `'backup_' || ${createdMs(i, n, baseMs)} || '_' || substr(md5('b' || ${i}), 1, 6)`;

async function inBatches(pool: pg.Pool, total: number, batch: number, label: string, log: (line: string) => void, statement: (from: number, to: number) => string): Promise<void> {
  const t0 = performance.now();
  for (let from = 1; from <= total; from += batch) {
    const to = Math.min(total, from + batch - 1);
    await pool.query(statement(from, to));
  }
  log(`fill: ${total.toLocaleString('en-US')} ${label} in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

/** Tables the fill writes; their secondary indexes and foreign keys are dropped meanwhile and made again after (a bulk load). */
const FILLED = ['shards', 'shard_replicas', 'backups', 'backup_shards'];

export async function fillCatalog(pool: pg.Pool, spec: FillSpec, log: (line: string) => void): Promise<void> {
  const tables = `ARRAY[${FILLED.map((t) => `'${t}'`).join(', ')}]`;
  const fks = await pool.query<{ tbl: string; name: string; def: string }>(`
    SELECT conrelid::regclass::text AS tbl, conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint
    WHERE contype = 'f' AND conrelid::regclass::text = ANY(${tables})`);
  const indexes = await pool.query<{ name: string; def: string }>(`
    SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i
    WHERE i.indrelid::regclass::text = ANY(${tables}) AND NOT i.indisprimary AND NOT i.indisunique`);
  for (const f of fks.rows) await pool.query(`ALTER TABLE ${f.tbl} DROP CONSTRAINT ${f.name}`);
  for (const i of indexes.rows) await pool.query(`DROP INDEX ${i.name}`);
  try {
    await insertRows(pool, spec, log);
  } finally {
    const t0 = performance.now();
    for (const i of indexes.rows) await pool.query(i.def);
    for (const f of fks.rows) await pool.query(`ALTER TABLE ${f.tbl} ADD CONSTRAINT ${f.name} ${f.def}`);
    log(`fill: ${indexes.rows.length} indexes and ${fks.rows.length} foreign keys made again in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  }
}

async function insertRows(pool: pg.Pool, spec: FillSpec, log: (line: string) => void): Promise<void> {
  const { backups: n, shards: m, refsPerBackup: r, keyId } = spec;
  const base = Date.now();
  const at = `to_timestamp(${createdMs('i', n, base)} / 1000.0)`;
  if (n * r > m) throw new Error(`fillCatalog: ${n} backups × ${r} shards each need ${n * r} shards; only ${m} were asked for.`);
  const key = `'${keyId.replace(/'/g, "''")}'`;
  const locs = `ARRAY[${spec.locations.map((l) => `'${l.replace(/'/g, "''")}'`).join(', ')}]::text[]`;

  await inBatches(pool, m, BATCH, 'shards', log, (a, b) => `
    INSERT INTO shards (id, content_id, security_level, key_id, plain_size, stored_size, checksum, compression, kind, created_at)
    SELECT ${shardId('i')}, md5(i::text) || md5((-i)::text), 'standard', ${key},
      1048576 - (i % 65536), 629145 - (i % 32768), md5('c' || i) || md5('d' || i), 'zstd',
      CASE WHEN i % ${r} = 0 THEN 'manifest' ELSE 'data' END, now() - (${m} - i) * interval '30 seconds'
    FROM generate_series(${a}, ${b}) i`);

  await inBatches(pool, m, Math.ceil(BATCH / spec.locations.length), `shards' replicas at ${spec.locations.length} location(s)`, log, (a, b) => `
    INSERT INTO shard_replicas (shard_id, location, state, checked_at)
    SELECT ${shardId('i')}, loc, 'ok', now() - (i % 1000) * interval '1 hour'
    FROM generate_series(${a}, ${b}) i, unnest(${locs}) loc`);

  // Backup i references shards (i-1)·r+1 … i·r; its last one is its manifest.
  await inBatches(pool, n, 2_000, 'backups', log, (a, b) => `
    INSERT INTO backups (id, status, backup_type, security_level, user_id, tags, retention_days, priority, metadata, sources, key_id,
      manifest_shards, original_size, stored_size, new_bytes, file_count, shard_count, new_shard_count, compression_ratio, dedup_ratio,
      duration_ms, throughput_mbps, created_at, started_at, completed_at, expires_at, error, change_summary)
    SELECT ${backupId('i', n, base)},
      CASE WHEN i % 50 = 0 THEN 'failed' ELSE 'completed' END,
      CASE WHEN i % 5 = 1 THEN 'continuous' WHEN i % 10 = 0 THEN 'full' ELSE 'incremental' END,
      'standard', 'admin@example.com', jsonb_build_array('bench', 'set-' || (i % 20)), 30, 5,
      jsonb_build_object('host', 'bench-host', 'version', '0.1.0', 'codec', 'zstd'),
      CASE WHEN i % 5 = 1 THEN jsonb_build_array('/srv/watched/set-' || (i % 4)) ELSE jsonb_build_array('/srv/data/set-' || (i % 20), '/etc/app') END,
      ${key},
      jsonb_build_object('files', jsonb_build_array(${shardId(`(i * ${r})`)}), 'chunks', jsonb_build_array()),
      104857600 + (i % 1000) * 1048576, 62914560, 1048576 * (i % 7), 5000, ${r}, i % 7, 1.6, 3.2,
      30000 + (i % 600) * 100, 42.5,
      ${at}, ${at}, ${at} + (30000 + (i % 600) * 100) * interval '1 millisecond', ${at} + interval '30 days',
      CASE WHEN i % 50 = 0 THEN 'Storage location primary failed: ENOSPC (no space left on device)' END,
      jsonb_build_object('files_added', i % 13, 'files_changed', i % 29, 'files_removed', i % 3, 'changed_ratio', 0.01,
        'examples', jsonb_build_array('/srv/data/a.json', '/srv/data/b.json', '/srv/data/c.json'),
        'verdict', jsonb_build_object('suspicious', false, 'reasons', jsonb_build_array()))
    FROM generate_series(${a}, ${b}) i`);

  await inBatches(pool, n, Math.max(1, Math.floor(BATCH / r)), 'backups × their shards (backup_shards)', log, (a, b) => `
    INSERT INTO backup_shards (backup_id, shard_id)
    SELECT ${backupId('i', n, base)}, ${shardId(`((i - 1) * ${r} + j)`)}
    FROM generate_series(${a}, ${b}) i, generate_series(1, ${r}) j`);
}
