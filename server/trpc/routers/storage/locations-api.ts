/**
 * What the location procedures need: listing (masked), add, update, enable/disable and a probe. The live
 * implementation works on the running engine (its config, catalog and master key source). Services may
 * provide their own `locations` (tests do); otherwise it is derived from the engine.
 */
import { assertLocationAllowed } from '../../../engine/storage/location-allowed';
import type { Config, StorageLocationConfig } from '../../../config';
import { maskSecrets } from '../../../config-cloud';
import type { Db } from '../../../../db/client';
import { locationWhere } from '../../../engine/storage/location-where';
import { EngineError } from '../../../engine/errors';
import { type LocationInput, LocationStore, validateLocation } from '../../../engine/storage/location-store';
import { refreshSpace } from '../../../engine/storage/location-space';
import type { Location, LocationSet } from '../../../engine/storage/locations';
import { type ProbeResult, probeLocation } from '../../../engine/storage/probe';
import { resetStorageRetryStats } from '../../../engine/storage/retrying';
import type { EngineApi, Services } from '../../services/types';

export interface LocationListing {
  name: string;
  type: string;
  /** config: from the configuration file (read-only here); console: managed from the console. */
  source: 'config' | 'console';
  priority: number;
  region: string;
  /** The directory, or the bucket/container (and prefix) as a URL. */
  where: string;
  max_size_gb: number | null;
  enabled: boolean;
  /** Every other key, credentials masked. */
  settings: Record<string, unknown>;
  /** Opened by the running engine (false only if opening it failed; the server log says why). */
  active: boolean;
  /**
   * Free and total bytes of the file system holding a local location (statfs, read within the last 30 s);
   * null for cloud locations (S3, Azure Blob and GCS report no quota) and for a location not open or unreadable.
   */
  free_bytes: number | null;
  total_bytes: number | null;
}

export interface LocationsApi {
  list(): Promise<LocationListing[]>;
  add(input: LocationInput, actor: string): Promise<LocationListing>;
  update(name: string, patch: Partial<LocationInput>, actor: string): Promise<LocationListing>;
  setEnabled(name: string, enabled: boolean, actor: string): Promise<void>;
  test(target: { name: string } | { location: LocationInput }): Promise<ProbeResult>;
}

interface Installation {
  config: Config;
  catalog: { db: Db };
  locations: LocationSet;
  /** Applies saved location changes to the running engine at once (other processes follow within seconds). */
  refreshLocations(): Promise<unknown>;
  /** Master keys, current first, for the stored credentials. */
  secretKeys(): Promise<Buffer[]>;
}

const OWN_KEYS = new Set(['name', 'type', 'priority', 'region', 'max_size_gb', 'enabled']);

function listing(loc: StorageLocationConfig, source: LocationListing['source'], open: Location | undefined): LocationListing {
  const settings = Object.fromEntries(Object.entries(maskSecrets(loc)).filter(([k]) => !OWN_KEYS.has(k)));
  const space = open?.space ?? null;
  return {
    name: loc.name,
    type: loc.type,
    source,
    priority: loc.priority,
    region: loc.region,
    where: locationWhere(loc),
    max_size_gb: loc.max_size_gb ?? null,
    enabled: loc.enabled,
    settings,
    active: open !== undefined,
    free_bytes: space ? space.freeBytes : null,
    total_bytes: space ? space.totalBytes : null,
  };
}

/** A store over the engine's master keys (current first), so credentials follow a key rotation at once. */
async function storeOf(engine: Installation): Promise<LocationStore> {
  const [current, ...previous] = await engine.secretKeys();
  return new LocationStore(engine.catalog.db, current!, previous);
}

export function liveLocationsApi(engine: Pick<EngineApi, 'audit'> & Installation): LocationsApi {
  const fileNames = () => engine.config.storage_locations.map((l) => l.name);
  const opened = (name: string) => engine.locations.get(name);
  const isActive = (name: string) => opened(name) !== undefined;
  // Saved is saved: a location that cannot be opened yet is logged by the reload and retried on the next change.
  const applyNow = () => engine.refreshLocations().catch(() => undefined);
  const probeOpts = { timeoutMs: engine.config.storage_timeout_seconds * 1000, retries: 0, backoffMs: 0, outbound: engine.config.outbound };
  return {
    async list() {
      const stored = (await (await storeOf(engine)).configs()).filter((l) => !fileNames().includes(l.name));
      await refreshSpace({ locations: engine.locations, log: () => undefined });
      return [...engine.config.storage_locations.map((l) => listing(l, 'config', opened(l.name))), ...stored.map((l) => listing(l, 'console', opened(l.name)))];
    },
    async add(input, actor) {
      assertLocationAllowed(engine.config, validateLocation(input));
      const loc = await (await storeOf(engine)).add(input, fileNames());
      await engine.audit({ actor, action: 'storage.addLocation', target: loc.name, details: { type: loc.type } });
      await applyNow();
      return listing(loc, 'console', opened(loc.name));
    },
    async update(name, patch, actor) {
      if (fileNames().includes(name)) throw new EngineError('CONFLICT', `Storage location "${name}" comes from the configuration file; change it there.`);
      if (typeof patch.path === 'string') assertLocationAllowed(engine.config, { name, type: 'local', path: patch.path });
      const loc = await (await storeOf(engine)).update(name, patch);
      await engine.audit({ actor, action: 'storage.updateLocation', target: name, details: { keys: Object.keys(patch).sort() } });
      await applyNow();
      return listing(loc, 'console', opened(name));
    },
    async setEnabled(name, enabled, actor) {
      if (fileNames().includes(name)) throw new EngineError('CONFLICT', `Storage location "${name}" comes from the configuration file; set "enabled" there.`);
      await (await storeOf(engine)).setEnabled(name, enabled);
      await engine.audit({ actor, action: 'storage.disableLocation', target: name, details: { enabled } });
      await applyNow();
    },
    async test(target) {
      if ('location' in target) {
        const draft = validateLocation(target.location);
        const result = await probeLocation(draft, probeOpts);
        // A draft's retry counters would otherwise show up in the metrics as a location.
        if (!isActive(draft.name)) resetStorageRetryStats(draft.name);
        return result;
      }
      const loc = engine.config.storage_locations.find((l) => l.name === target.name) ?? (await (await storeOf(engine)).configs()).find((l) => l.name === target.name);
      if (!loc) throw new EngineError('NOT_FOUND', `No storage location named "${target.name}".`);
      const result = await probeLocation(loc, probeOpts);
      if (!isActive(loc.name)) resetStorageRetryStats(loc.name);
      return result;
    },
  };
}

function isInstallation(e: EngineApi): e is EngineApi & Installation {
  return 'config' in e && 'catalog' in e && 'locations' in e && 'refreshLocations' in e && 'secretKeys' in e;
}

/** The services' own `locations` when given, else one over the running engine. */
export async function locationsFor(services: Services & { locations?: () => Promise<LocationsApi> }): Promise<LocationsApi> {
  if (services.locations) return services.locations();
  const engine = await services.engine();
  if (!isInstallation(engine)) throw new EngineError('UNAVAILABLE', 'Storage location management is not available in this server.');
  return liveLocationsApi(engine);
}
