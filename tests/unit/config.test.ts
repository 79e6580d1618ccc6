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
    // Not relative to the folder it runs from: the per-user (or, as root, per-machine) place, the key apart.
    const c = loadConfig({ HOME: dir, XDG_DATA_HOME: path.join(dir, 'xdg-data'), XDG_CONFIG_HOME: path.join(dir, 'xdg-config'), PLEXICHAT_APP_ROOT: dir }, dir);
    expect(c).toMatchObject({ shard_size: 1048576, replication_factor: 2, retention_days: 90, default_security_level: 'standard', enable_encryption: true });
    expect(c.storage_locations.map((l) => l.name)).toEqual(['local-a', 'local-b']);
    const root = process.getuid?.() === 0;
    expect(c.data_dir).toBe(root ? '/var/lib/plexichat' : path.join(dir, 'xdg-data', 'plexichat'));
    expect(c.master_key_source).toEqual({ kind: 'file', path: root ? '/etc/plexichat/master.key' : path.join(dir, 'xdg-config', 'plexichat', 'master.key'), previous: [] });
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

describe('configuration refuses what it does not understand', () => {
  it('stops at start on a misspelled key, naming the key it resembles', () => {
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ replicaton_factor: 2 }) }, dir)).toThrow(/unknown setting "replicaton_factor" \(did you mean "replication_factor"\?\)/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ totally_unrelated_thing: 1 }) }, dir)).toThrow(/unknown setting "totally_unrelated_thing"/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ outbound: { denied_network: [] } }) }, dir)).toThrow(/unknown setting "outbound.denied_network" \(did you mean "outbound.denied_networks"\?\)/);
    expect(() =>
      loadConfig({ PLEXICHAT_CONFIG: file({ storage_locations: [{ name: 'a', type: 'local', path: '/a', priorty: 1 }, { name: 'b', type: 'local', path: '/b' }] }) }, dir),
    ).toThrow(/unknown setting "storage_locations.0.priorty" \(did you mean "storage_locations.0.priority"\?\)/);
  });

  it('accepts the cloud keys of a location of that type', () => {
    const c = loadConfig({ PLEXICHAT_CONFIG: file({ replication_factor: 1, storage_locations: [{ name: 's', type: 's3', bucket_name: 'bkt', endpoint: 'http://127.0.0.1:1', force_path_style: true }] }) }, dir);
    expect(c.storage_locations[0]).toMatchObject({ bucket_name: 'bkt' });
  });

  it('validates the alerts block at start', () => {
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ alerts: { email: { smtp_port: 'x' } } }) }, dir)).toThrow(/alerts\.email\.smtp_port/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ alerts: { slak: {} } }) }, dir)).toThrow(/alerts has unknown setting\(s\) "slak"/);
  });

  it("maps the spec's alert_thresholds names", () => {
    const c = loadConfig({ PLEXICHAT_CONFIG: file({ alert_thresholds: { storage_usage: 85, failed_backup_rate: 5 } }) }, dir);
    expect(c.alert_thresholds).toEqual({ storage_usage: 85, failed_backup_rate: 5 });
  });

  it('reads the path policy, the network policy and the trusted proxies', () => {
    const c = loadConfig({ PLEXICHAT_ALLOWED_BACKUP_PATHS: '/srv/a:/srv/b', PLEXICHAT_ALLOWED_RESTORE_PATHS: '/restore', PLEXICHAT_TRUSTED_PROXIES: '127.0.0.1, ::1' }, dir);
    expect(c.allowed_backup_paths).toEqual(['/srv/a', '/srv/b']);
    expect(c.allowed_restore_paths).toEqual(['/restore']);
    expect(c.trusted_proxies).toEqual(['127.0.0.1', '::1']);
    expect(c.outbound.denied_networks).toContain('169.254.0.0/16');
    expect(c.max_upload_mb).toBe(1024);
    expect(() => loadConfig({ PLEXICHAT_ALLOWED_BACKUP_PATHS: 'relative/dir' }, dir)).toThrow(/allowed_backup_paths.0 must be an absolute directory/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ outbound: { denied_networks: ['10.0.0.0/33'] } }) }, dir)).toThrow(/outbound.denied_networks.0 must be an IP network/);
  });
});
