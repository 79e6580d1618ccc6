import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/config';

const dir = mkdtempSync(path.join(tmpdir(), 'pxcfg-'));
const file = (doc: unknown) => {
  const f = path.join(dir, `${Math.random()}.json`);
  writeFileSync(f, typeof doc === 'string' ? doc : JSON.stringify(doc));
  return f;
};

describe('configuration', () => {
  it('has working defaults: 1 MiB shards, factor 2 over two local locations', () => {
    const c = loadConfig({}, dir);
    expect(c).toMatchObject({ shard_size: 1048576, replication_factor: 2, retention_days: 90, default_security_level: 'standard', enable_encryption: true });
    expect(c.storage_locations.map((l) => l.name)).toEqual(['local-a', 'local-b']);
    expect(c.data_dir).toBe(path.join(dir, '.plexichat'));
    expect(c.master_key_source).toEqual({ kind: 'file', path: path.join(dir, '.plexichat', 'master.key'), previous: [] });
  });

  it('layers defaults < config file < environment', () => {
    const f = file({ shard_size: 2097152, replication_factor: 1, retention_days: 30 });
    const c = loadConfig({ PLEXICHAT_CONFIG: f, PLEXICHAT_REPLICATION_FACTOR: '2', PLEXICHAT_SECURITY_LEVEL: 'BASIC' }, dir);
    expect(c).toMatchObject({ shard_size: 2097152, replication_factor: 2, retention_days: 30, default_security_level: 'basic' });
  });

  it('names the key, the allowed range and the source of a bad value', () => {
    expect(() => loadConfig({ PLEXICHAT_SHARD_SIZE: '100' }, dir)).toThrow(/shard_size must be between 262144 and 20971520 bytes \(256 KiB–20 MiB\); got 100 \(from environment variable PLEXICHAT_SHARD_SIZE\)/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ shard_size: 64 * 1048576 }) }, dir)).toThrow(/shard_size .*got 67108864 \(from config file/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ default_security_level: 'ultra' }) }, dir)).toThrow(ConfigError);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file('{ not json') }, dir)).toThrow(/Cannot read config file/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ storage_locations: [{ name: 'a', type: 'local', path: '/x' }] }) }, dir)).toThrow(/replication_factor is 2 but only 1 storage location/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ storage_locations: [{ name: 'a', type: 'local' }, { name: 'b', type: 'local', path: '/b' }] }) }, dir)).toThrow(/storage_locations.0.path is required/);
  });

  it('takes an encryption key from the environment', () => {
    expect(loadConfig({ PLEXICHAT_ENCRYPTION_KEY: 'k'.repeat(64) }, dir).master_key_source).toEqual({ kind: 'env', value: 'k'.repeat(64), previous: [] });
    // Keys a rotation replaced: still accepted to open what they wrapped.
    expect(loadConfig({ PLEXICHAT_ENCRYPTION_KEY: 'k'.repeat(64), PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS: ' a1 , b2,' }, dir).master_key_source.previous).toEqual(['a1', 'b2']);
  });
});
