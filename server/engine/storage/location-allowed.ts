/**
 * What the configuration forbids of a storage location added or changed in the console: a cloud location
 * while `enable_cloud_storage` is false, and a local location whose folder would hold the master key file
 * (the key must never travel with the data it opens). Config-file locations are checked by loadConfig.
 */
import type { Config, StorageLocationConfig } from '../../config';
import { isWithin } from '../../install-paths';
import { EngineError } from '../errors';

export function locationProblem(config: Pick<Config, 'enable_cloud_storage' | 'master_key_source'>, loc: Pick<StorageLocationConfig, 'name' | 'type' | 'path'>): string | null {
  if (loc.type !== 'local' && config.enable_cloud_storage === false) {
    return `Storage location "${loc.name}" is a ${loc.type} location, but enable_cloud_storage is false in the configuration; add a local location, or set enable_cloud_storage to true.`;
  }
  const key = config.master_key_source;
  if (loc.type === 'local' && loc.path && key.kind === 'file' && isWithin(key.path, loc.path)) {
    return `Storage location "${loc.name}" at ${loc.path} would hold the master key file ${key.path}; choose a folder that does not contain it.`;
  }
  return null;
}

export function assertLocationAllowed(config: Pick<Config, 'enable_cloud_storage' | 'master_key_source'>, loc: Pick<StorageLocationConfig, 'name' | 'type' | 'path'>): void {
  const problem = locationProblem(config, loc);
  if (problem) throw new EngineError('INVALID', problem);
}
