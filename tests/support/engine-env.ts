/**
 * A throwaway installation for tests: its own data dir, storage locations and catalog — the embedded
 * PGlite catalog, or a fresh database on the real PostgreSQL named by TEST_DATABASE_URL.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { type Config, type Env, loadConfig } from '../../server/config';
import { BackupEngine } from '../../server/engine/engine';

export type CatalogMode = 'embedded' | 'postgres';

/** The catalog modes to run integration tests against: always embedded, and PostgreSQL when available. */
export const CATALOG_MODES: CatalogMode[] = process.env.TEST_DATABASE_URL ? ['embedded', 'postgres'] : ['embedded'];

export interface TestEnv {
  dir: string;
  env: Env;
  config: Config;
  open(extra?: Env): Promise<BackupEngine>;
  cleanup(): Promise<void>;
}

export async function createDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const admin = process.env.TEST_DATABASE_URL!;
  const name = `px_test_${randomBytes(6).toString('hex')}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export async function makeEnv(mode: CatalogMode, settings: Record<string, unknown> = {}, extraEnv: Env = {}): Promise<TestEnv> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pxtest-'));
  const db = mode === 'postgres' ? await createDatabase() : null;
  const cfgFile = path.join(dir, 'config.json');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(cfgFile, JSON.stringify(settings));
  const env: Env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    PLEXICHAT_DATA_DIR: path.join(dir, 'data'),
    // Where a test that drops PLEXICHAT_ENCRYPTION_KEY gets its key file (never the machine's /etc/plexichat or ~/.config).
    PLEXICHAT_KEY_FILE: path.join(dir, 'keys', 'master.key'),
    PLEXICHAT_CONFIG: cfgFile,
    PLEXICHAT_ENCRYPTION_KEY: randomBytes(32).toString('hex'),
    PLEXICHAT_CATALOG_IDLE_MS: '5000',
    ...(db ? { DATABASE_URL: db.url } : {}),
    ...extraEnv,
  };
  const engines: BackupEngine[] = [];
  return {
    dir,
    env,
    config: loadConfig(env),
    open: async (extra = {}) => {
      const e = await BackupEngine.open(loadConfig({ ...env, ...extra }), { log: () => undefined });
      engines.push(e);
      return e;
    },
    cleanup: async () => {
      await Promise.all(engines.map((e) => e.close().catch(() => undefined)));
      await db?.drop().catch(() => undefined);
      // The embedded catalog server may still be writing its last files (it exits once idle): retry a directory
      // that filled again while it was being removed.
      await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
    },
  };
}
