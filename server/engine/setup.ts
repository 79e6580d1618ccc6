/**
 * Opening an installation: storage backends, the repository identity (salt + id key), shared by the
 * catalog and every location's config.json. An empty catalog adopts the identity found in storage, so
 * a lost database can be rebuilt; a new location gets the config written on first use.
 */
import { locationProblem } from './storage/location-allowed';
import { eq } from 'drizzle-orm';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Db } from '../../db/client';
import { dataKeys, settings } from '../../db/schema';
import type { Config, StorageLocationConfig } from '../config';
import type { Hsm } from './keys/hsm';
import { KeyRing, loadMasterKey, loadPreviousMasterKeys, type WrappedKey } from './keys/keys';
import { LocationStore, mergeLocations } from './storage/location-store';
import { type Location, LocationSet } from './storage/locations';
import { CONFIG_KEY, REPO_FORMAT, REPO_VERSION, type RepoConfig } from './repository/repository';
import { repoEncryption, type TrustedRepoConfig, withEncryption } from './repository/repo-trust';
import { createBackend } from './storage/factory';
import { loadRepoSetting, unwrapIdKey } from './keys/repository-key';
import { usageTotals } from './catalog/usage-totals';

/**
 * The configured locations, plus those added from the console and kept in the catalog (credentials opened
 * with the master key); on a name clash the config file wins.
 */
/**
 * The locations of the config file and the console, opened. With `previous` (a reload), a location whose
 * configuration did not change is kept as it is — its connections, health and counters — and only new or
 * changed ones are opened.
 */
export async function openLocations(
  config: Config,
  db: Db,
  log: (m: string) => void,
  master?: Buffer,
  previous?: LocationSet,
  /** Replaced master keys that may still seal stored credentials (default: from the key source). */
  previousKeys?: Buffer[],
  /** The engine's clock: object locks are compared with it. */
  now?: () => Date,
): Promise<LocationSet> {
  const opts = {
    timeoutMs: config.storage_timeout_seconds * 1000,
    retries: config.cloud_retries,
    backoffMs: config.storage_retry_backoff_seconds * 1000,
    log,
    outbound: config.outbound,
    now,
  };
  // Every command opens the locations: their usage comes from the catalog's counters, not a join over every replica.
  const usedBy = new Map([...(await usageTotals(db)).locations].map(([name, u]) => [name, u.bytes]));
  const all: Location[] = [];
  // BackupEngine.open has already loaded (or created) the master key; passing it saves a second derivation.
  const key = master ?? loadMasterKey(config.master_key_source, log);
  const stored = (await storedLocations(db, key, previousKeys ?? loadPreviousMasterKeys(config.master_key_source), log)).filter((loc) => {
    const problem = locationProblem(config, loc);
    if (problem) log(`not used: ${problem}`);
    return !problem;
  });
  const configs = mergeLocations(config.storage_locations, stored, log);
  for (const cfg of configs) {
    const same = previous?.get(cfg.name);
    if (same && JSON.stringify(same.config) === JSON.stringify(cfg)) {
      all.push(same);
      continue;
    }
    const backend = await createBackend(cfg, opts);
    const loc: Location = { name: cfg.name, config: cfg, backend, usedBytes: usedBy.get(cfg.name) ?? 0, failures: 0, lastError: null, unhealthyUntil: 0, ops: 0, errors: 0 };
    if (cfg.enabled) {
      try {
        await backend.init();
      } catch (err) {
        loc.failures = 3;
        loc.lastError = (err as Error).message;
        loc.unhealthyUntil = Date.now() + 60_000;
        log(`storage location ${cfg.name} is unavailable: ${(err as Error).message}`);
      }
    }
    all.push(loc);
  }
  return new LocationSet(all);
}

async function storedLocations(db: Db, master: Buffer, previous: Buffer[], log: (m: string) => void): Promise<StorageLocationConfig[]> {
  try {
    return await new LocationStore(db, master, previous).configs(log);
  } catch (err) {
    log(`storage locations added from the console are not used: ${(err as Error).message}`);
    return [];
  }
}

/** Settings key present while a catalog created over an existing repository has not been recovered. */
export const ADOPTED_KEY = 'repository_adopted';

export async function openRepository(
  db: Db,
  locations: LocationSet,
  master: Buffer,
  log: (m: string) => void,
  hsm: Hsm | null = null,
  previous: Buffer[] = [],
  /** enable_encryption of this installation: false marks the repository as one that may hold plaintext. */
  opts: { encrypted?: boolean } = {},
): Promise<{ keys: KeyRing; idKey: Buffer; repo: RepoConfig }> {
  let repo: TrustedRepoConfig | null = await loadRepoSetting(db);
  // A new catalog over storage that already holds a repository: the previous catalog was lost or replaced.
  const adopted = !repo && (repo = await findRepoInStorage(locations)) !== null;
  if (!repo) {
    const salt = randomBytes(16);
    const ring = new KeyRing(master, salt);
    const { wrapped } = await ring.newKey('id', 'hmac-sha256');
    repo = { format: REPO_FORMAT, version: REPO_VERSION, repo_id: randomUUID(), created_at: new Date().toISOString(), kdf_salt: salt.toString('hex'), id_key: wrapped };
    log(`initialised repository ${repo.repo_id}`);
  }
  const wrappedId = repo.id_key;
  const keys = new KeyRing(master, Buffer.from(repo.kdf_salt, 'hex'), hsm, previous);
  const idKey = await unwrapIdKey(keys, wrappedId);
  // The encryption rule is believed only with a valid MAC (see repo-trust.ts); plaintext is allowed for good
  // once an installation configured without encryption opens the repository.
  const current = repoEncryption(idKey, repo);
  const rule = opts.encrypted === false ? 'optional' : current;
  const flipped = rule !== current;
  const restate = flipped || repo.encryption !== rule || !repo.auth;
  if (restate) repo = withEncryption(idKey, repo, rule);
  const created = await db.insert(settings).values({ key: 'repository', value: repo as unknown as Record<string, unknown> }).onConflictDoNothing().returning({ key: settings.key });
  if (!created.length && restate) await db.update(settings).set({ value: repo as unknown as Record<string, unknown> }).where(eq(settings.key, 'repository'));
  if (adopted && created.length) {
    // Until recover-catalog has run, this catalog does not know the repository's backups: storage gc refuses.
    await db.insert(settings).values({ key: ADOPTED_KEY, value: { at: new Date().toISOString() } }).onConflictDoNothing();
    log(`this catalog is new but storage already holds repository ${repo.repo_id}: run plexichat-backup recover-catalog to list its backups again`);
  }
  await db
    .insert(dataKeys)
    .values({ id: repo.id_key.id, securityLevel: 'id', algorithm: repo.id_key.algorithm, wrappedKey: repo.id_key.wrapped, kekId: repo.id_key.kekId })
    .onConflictDoNothing();
  const body = Buffer.from(JSON.stringify(repo, null, 2));
  for (const loc of locations.enabled()) {
    try {
      if (!(await loc.backend.stat(CONFIG_KEY)) || (flipped && (await storedRepoId(loc)) === repo.repo_id)) await loc.backend.put(CONFIG_KEY, body);
    } catch (err) {
      log(`could not write the repository config to ${loc.name}: ${(err as Error).message}`);
    }
  }
  return { keys, idKey, repo };
}

async function storedRepoId(loc: Location): Promise<string | null> {
  try {
    return (JSON.parse((await loc.backend.get(CONFIG_KEY)).toString('utf8')) as RepoConfig).repo_id;
  } catch {
    return null;
  }
}

async function findRepoInStorage(locations: LocationSet): Promise<TrustedRepoConfig | null> {
  for (const loc of locations.enabled()) {
    try {
      const doc = JSON.parse((await loc.backend.get(CONFIG_KEY)).toString('utf8')) as RepoConfig;
      if (doc.format === REPO_FORMAT) return doc;
    } catch {
      // no repository there yet
    }
  }
  return null;
}

export function wrappedFromRow(k: typeof dataKeys.$inferSelect): WrappedKey {
  return { id: k.id, securityLevel: k.securityLevel as WrappedKey['securityLevel'], algorithm: k.algorithm as WrappedKey['algorithm'], wrapped: k.wrappedKey, kekId: k.kekId };
}
