/**
 * Storage locations managed from the console, kept in the `storage_locations` catalog table: the non-secret
 * keys in `settings`, the credentials sealed under the master key in `secrets` (never in plain text, never
 * returned by an API: listings are masked). At engine open they are merged with the config file's locations;
 * the config file wins on a name clash. A running engine applies changes when it refreshes (location-reload.ts).
 */
import { asc, eq } from 'drizzle-orm';
import path from 'node:path';
import * as z from 'zod';
import type { Db } from '../../../db/client';
import { storageLocations } from '../../../db/schema';
import type { Config, StorageLocationConfig } from '../../config';
import { cloudLocationIssues, isSecretKey, maskSecrets } from '../../config-cloud';
import { EngineError } from '../errors';
import { loadMasterKey, loadPreviousMasterKeys, openSecretAny, sealSecret } from '../keys/keys';

/** The credential keys of the cloud types; any other key isSecretKey recognises is treated the same way. */
export const CREDENTIAL_KEYS = ['access_key_id', 'secret_access_key', 'session_token', 'connection_string', 'account_key', 'sas_token', 'credentials_json'] as const;
/** Keys that hold credentials: sealed in `secrets`, masked in listings. */
const isCredential = (key: string) => (CREDENTIAL_KEYS as readonly string[]).includes(key) || isSecretKey(key);
/** Columns of their own, not part of `settings`. */
const COLUMNS = new Set(['name', 'type', 'priority', 'max_size_gb', 'region', 'enabled']);
export const MASK = '••••';

const baseSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { error: 'must be 1–63 letters, digits, "_", "." or "-"' }),
    type: z.enum(['local', 's3', 'azure', 'gcs']),
    path: z.string().min(1).optional(),
    priority: z.number().int().min(0).max(1000).default(10),
    max_size_gb: z.number().positive().nullable().optional(),
    region: z.string().min(1).default('local'),
    enabled: z.boolean().default(true),
  })
  .catchall(z.unknown());

export type LocationInput = z.input<typeof baseSchema>;

/** A stored location as listed: credentials masked, plus where it came from. */
export interface ManagedLocation {
  name: string;
  type: string;
  priority: number;
  region: string;
  max_size_gb: number | null;
  enabled: boolean;
  settings: Record<string, unknown>;
  /** Credential keys present, each masked ("••••" + at most the last 4 characters). */
  credentials: Record<string, string>;
  created_at: string;
}

/** Validates a location the same way the config file is validated; throws INVALID naming every problem. */
export function validateLocation(input: LocationInput): StorageLocationConfig {
  const r = baseSchema.safeParse(input);
  if (!r.success) throw new EngineError('INVALID', `Invalid storage location: ${r.error.issues.map((i) => `${i.path.join('.') || 'location'} ${i.message}`).join('; ')}`);
  const { max_size_gb, ...rest } = r.data;
  const loc: StorageLocationConfig = { ...rest, ...(max_size_gb ? { max_size_gb } : {}) };
  if (loc.type === 'local' && !loc.path) throw new EngineError('INVALID', `Invalid storage location: path is required for a local location`);
  if (loc.type === 'local' && !path.isAbsolute(loc.path!)) {
    throw new EngineError('INVALID', `Invalid storage location: path "${loc.path}" is relative; give an absolute path such as /srv/plexichat-backups (a relative one would depend on the server's working directory).`);
  }
  const issues = cloudLocationIssues(loc);
  if (issues.length) throw new EngineError('INVALID', `Invalid storage location: ${issues.join('; ')}`);
  return loc;
}

function split(loc: StorageLocationConfig): { settings: Record<string, unknown>; secrets: Record<string, string> } {
  const settings: Record<string, unknown> = {};
  const secrets: Record<string, string> = {};
  for (const [k, v] of Object.entries(loc)) {
    if (COLUMNS.has(k) || v === undefined) continue;
    if (isCredential(k) && typeof v === 'string') secrets[k] = v;
    else settings[k] = v;
  }
  return { settings, secrets };
}

const sealContext = (name: string) => `storage_location:${name}`;

type Row = typeof storageLocations.$inferSelect;

export class LocationStore {
  constructor(
    private readonly db: Db,
    private readonly master: Buffer,
    /** Master keys a rotation replaced: credentials sealed under them still open until the rotation re-seals them. */
    private readonly previous: Buffer[] = [],
  ) {}

  /** For an open engine (or anything with its config and catalog): the master keys are read from their source. */
  static forInstallation(i: { config: Config; catalog: { db: Db } }): LocationStore {
    return new LocationStore(i.catalog.db, loadMasterKey(i.config.master_key_source, () => undefined), loadPreviousMasterKeys(i.config.master_key_source));
  }

  private secretsOf(row: Row): Record<string, string> {
    if (!row.secrets) return {};
    try {
      return JSON.parse(openSecretAny([this.master, ...this.previous], row.secrets, sealContext(row.name))) as Record<string, string>;
    } catch {
      throw new EngineError('INVALID', `The credentials of storage location "${row.name}" cannot be opened with the configured master key; enter them again.`);
    }
  }

  private toConfig(row: Row): StorageLocationConfig {
    return {
      ...row.settings,
      ...this.secretsOf(row),
      name: row.name,
      type: row.type as StorageLocationConfig['type'],
      priority: row.priority,
      region: row.region,
      enabled: row.enabled,
      ...(row.maxSizeGb ? { max_size_gb: row.maxSizeGb } : {}),
    };
  }

  private async row(name: string): Promise<Row | undefined> {
    const [row] = await this.db.select().from(storageLocations).where(eq(storageLocations.name, name));
    return row;
  }

  /** Every stored location with its credentials opened: for the engine only, never for an API. A row that cannot be opened is logged and left out. */
  async configs(log: (m: string) => void = () => undefined): Promise<StorageLocationConfig[]> {
    const rows = await this.db.select().from(storageLocations).orderBy(asc(storageLocations.priority), asc(storageLocations.name));
    const out: StorageLocationConfig[] = [];
    for (const r of rows) {
      try {
        out.push(this.toConfig(r));
      } catch (err) {
        log(`storage location "${r.name}" from the console is not used: ${(err as Error).message}`);
      }
    }
    return out;
  }

  /** For display: credentials masked, never opened for the caller. */
  async list(): Promise<ManagedLocation[]> {
    const rows = await this.db.select().from(storageLocations).orderBy(asc(storageLocations.priority), asc(storageLocations.name));
    return rows.map((r) => ({
      name: r.name,
      type: r.type,
      priority: r.priority,
      region: r.region,
      max_size_gb: r.maxSizeGb,
      enabled: r.enabled,
      settings: maskSecrets(r.settings),
      credentials: maskSecrets(this.secretsOf(r)),
      created_at: r.createdAt.toISOString(),
    }));
  }

  async add(input: LocationInput, reserved: readonly string[] = []): Promise<StorageLocationConfig> {
    const loc = validateLocation(input);
    if (reserved.includes(loc.name) || (await this.row(loc.name))) {
      throw new EngineError('CONFLICT', `A storage location named "${loc.name}" already exists; choose another name.`);
    }
    await this.write(loc, 'insert');
    return loc;
  }

  /**
   * Changes a stored location. Credential keys left out, empty or still masked keep their stored value, so
   * an edit form can send back what listLocations showed. The type cannot change.
   */
  async update(name: string, patch: Partial<LocationInput>): Promise<StorageLocationConfig> {
    const row = await this.row(name);
    if (!row) throw new EngineError('NOT_FOUND', `Storage location "${name}" is not managed from the console (it may come from the configuration file).`);
    const current = this.toConfig(row);
    const next: Record<string, unknown> = { ...current };
    for (const [k, v] of Object.entries(patch)) {
      if (isCredential(k) && (v === '' || v === undefined || (typeof v === 'string' && v.startsWith(MASK)))) continue;
      next[k] = v === null && k !== 'max_size_gb' ? undefined : v;
    }
    if (next.type !== current.type) throw new EngineError('INVALID', 'The type of a storage location cannot change; add a new location instead.');
    next.name = name;
    const loc = validateLocation(next as LocationInput);
    await this.write(loc, 'update');
    return loc;
  }

  async setEnabled(name: string, enabled: boolean): Promise<void> {
    const done = await this.db.update(storageLocations).set({ enabled }).where(eq(storageLocations.name, name)).returning({ name: storageLocations.name });
    if (!done.length) throw new EngineError('NOT_FOUND', `Storage location "${name}" is not managed from the console (it may come from the configuration file).`);
  }

  private async write(loc: StorageLocationConfig, mode: 'insert' | 'update'): Promise<void> {
    const { settings, secrets } = split(loc);
    const values = {
      type: loc.type,
      settings,
      secrets: Object.keys(secrets).length ? sealSecret(this.master, JSON.stringify(secrets), sealContext(loc.name)) : null,
      priority: loc.priority,
      maxSizeGb: loc.max_size_gb ?? null,
      region: loc.region,
      enabled: loc.enabled,
    };
    if (mode === 'insert') await this.db.insert(storageLocations).values({ name: loc.name, ...values });
    else await this.db.update(storageLocations).set(values).where(eq(storageLocations.name, loc.name));
  }
}

/** The config file's locations plus the stored ones; the config file wins on a name clash (logged). */
export function mergeLocations(fromFile: StorageLocationConfig[], stored: StorageLocationConfig[], log: (m: string) => void): StorageLocationConfig[] {
  const names = new Set(fromFile.map((l) => l.name));
  const out = [...fromFile];
  for (const loc of stored) {
    if (names.has(loc.name)) {
      log(`storage location "${loc.name}" is defined both in the configuration file and in the console; using the configuration file's`);
      continue;
    }
    out.push(loc);
  }
  return out;
}

/** A rotation: re-seals every stored location's credentials under the current master key. Returns how many. */
export async function resealLocationSecrets(db: Db, masters: Buffer[]): Promise<number> {
  const rows = await db.select({ name: storageLocations.name, secrets: storageLocations.secrets }).from(storageLocations);
  let n = 0;
  for (const r of rows) {
    if (!r.secrets) continue;
    const plain = openSecretAny(masters, r.secrets, sealContext(r.name));
    await db.update(storageLocations).set({ secrets: sealSecret(masters[0]!, plain, sealContext(r.name)) }).where(eq(storageLocations.name, r.name));
    n++;
  }
  return n;
}
