/**
 * Where an installation lives by default (absolute, the same from any folder), where its master key goes
 * (key_file, apart from the data), and the spec's settings that used to be ignored: min/max_shard_size,
 * compression_config, enable_cloud_storage, the spec's storage class names and alert_thresholds names.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertSettings } from '../../server/alert-config';
import { loadConfig } from '../../server/config';
import { azureLocationKeys, gcsLocationKeys, s3LocationKeys } from '../../server/config-cloud';
import { Chunker } from '../../server/engine/backup/chunker';
import { chooseCompression, compressAdaptive } from '../../server/engine/repository/compression';
import { locationProblem } from '../../server/engine/storage/location-allowed';
import { defaultDataDir, defaultKeyDir, defaultKeyFile } from '../../server/install-paths';

const dir = mkdtempSync(path.join(tmpdir(), 'pxinst-'));
const file = (doc: unknown) => {
  const f = path.join(dir, `${Math.random()}.json`);
  writeFileSync(f, JSON.stringify(doc));
  return f;
};
/** An environment whose defaults all land in this test's folder (as a user who is not root). */
const userEnv = (sub: string) => ({ HOME: path.join(dir, sub), XDG_DATA_HOME: path.join(dir, sub, 'data-home'), XDG_CONFIG_HOME: path.join(dir, sub, 'config-home'), PLEXICHAT_APP_ROOT: path.join(dir, sub, 'app') });

describe('default places', () => {
  it('puts data in /var/lib/plexichat as root and under XDG_DATA_HOME (else ~/.local/share) otherwise', () => {
    expect(defaultDataDir({ HOME: '/home/ann' }, 0)).toBe('/var/lib/plexichat');
    expect(defaultDataDir({ HOME: '/home/ann' }, 1000)).toBe('/home/ann/.local/share/plexichat');
    expect(defaultDataDir({ HOME: '/home/ann', XDG_DATA_HOME: '/data/ann' }, 1000)).toBe('/data/ann/plexichat');
    expect(defaultDataDir({ HOME: '/home/ann', XDG_DATA_HOME: 'relative' }, 1000)).toBe('/home/ann/.local/share/plexichat'); // XDG ignores relative paths
  });

  it('puts the key in /etc/plexichat as root and under XDG_CONFIG_HOME (else ~/.config) otherwise, one file per installation', () => {
    expect(defaultKeyDir({}, 0)).toBe('/etc/plexichat');
    expect(defaultKeyFile({ HOME: '/home/ann' }, '/home/ann/.local/share/plexichat', 1000)).toBe('/home/ann/.config/plexichat/master.key');
    const other = defaultKeyFile({ HOME: '/home/ann' }, '/srv/px', 1000);
    expect(other).toMatch(/^\/home\/ann\/\.config\/plexichat\/master-[0-9a-f]{12}\.key$/);
    expect(defaultKeyFile({ HOME: '/home/ann' }, '/srv/px2', 1000)).not.toBe(other);
  });

  it('is the same whatever folder the process runs in', () => {
    const env = userEnv('same');
    const a = loadConfig(env, dir);
    const b = loadConfig(env, '/');
    expect(a.data_dir).toBe(b.data_dir);
    expect(path.isAbsolute(a.data_dir)).toBe(true);
    expect(a.master_key_source).toEqual(b.master_key_source);
  });

  it('lets PLEXICHAT_DATA_DIR, data_dir and key_file (PLEXICHAT_KEY_FILE) win', () => {
    const env = userEnv('explicit');
    expect(loadConfig({ ...env, PLEXICHAT_DATA_DIR: '/srv/px' }, dir).data_dir).toBe('/srv/px');
    expect(loadConfig({ ...env, PLEXICHAT_CONFIG: file({ data_dir: '/srv/py' }) }, dir).data_dir).toBe('/srv/py');
    const c = loadConfig({ ...env, PLEXICHAT_DATA_DIR: '/srv/px', PLEXICHAT_KEY_FILE: '/keys/px.key' }, dir);
    expect(c.master_key_source).toMatchObject({ kind: 'file', path: '/keys/px.key' });
    expect(loadConfig({ ...env, PLEXICHAT_DATA_DIR: '/srv/px', PLEXICHAT_CONFIG: file({ key_file: '/keys/from-file.key' }) }, dir).master_key_source).toMatchObject({ path: '/keys/from-file.key' });
  });

  it('keeps using a master key an older release generated in data_dir, with a hint to move it', () => {
    const data = path.join(dir, 'old-install');
    mkdirSync(data, { recursive: true });
    writeFileSync(path.join(data, 'master.key'), `${'ab'.repeat(32)}\n`);
    const src = loadConfig({ ...userEnv('old'), PLEXICHAT_DATA_DIR: data }, dir).master_key_source;
    expect(src).toMatchObject({ kind: 'file', path: path.join(data, 'master.key') });
    expect(src.kind === 'file' && src.hint).toMatch(/beside the catalog.*mv .*master\.key .*master-[0-9a-f]{12}\.key/);
  });

  it("uses the app folder's old .plexichat while the new default is empty, and says so", () => {
    const env = userEnv('legacy');
    mkdirSync(path.join(env.PLEXICHAT_APP_ROOT, '.plexichat', 'catalog'), { recursive: true });
    const c = loadConfig(env, '/');
    // As root the new default is the machine's /var/lib/plexichat, which this test cannot empty: where it
    // already exists, it is used, without a notice.
    if (existsSync(defaultDataDir(env))) {
      expect(c.data_dir).toBe(defaultDataDir(env));
      expect(c.notices ?? []).toEqual([]);
      return;
    }
    expect(c.data_dir).toBe(path.join(env.PLEXICHAT_APP_ROOT, '.plexichat'));
    expect(c.notices?.[0]).toMatch(/old default data_dir.*PLEXICHAT_DATA_DIR=/);
  });
});

describe('key_file is refused where it would travel with the data', () => {
  const data = path.join(dir, 'inst');
  it('inside a storage location, storage_root or data_dir', () => {
    const locs = { replication_factor: 1, storage_locations: [{ name: 'disk', type: 'local', path: path.join(dir, 'disk') }] };
    expect(() => loadConfig({ PLEXICHAT_DATA_DIR: data, PLEXICHAT_CONFIG: file(locs), PLEXICHAT_KEY_FILE: path.join(dir, 'disk', 'keys', 'm.key') }, dir)).toThrow(
      new RegExp(`key_file ${path.join(dir, 'disk', 'keys', 'm.key')} \\(from environment variable PLEXICHAT_KEY_FILE\\) is inside storage location "disk" ${path.join(dir, 'disk')}`),
    );
    expect(() => loadConfig({ PLEXICHAT_DATA_DIR: data, PLEXICHAT_KEY_FILE: path.join(data, 'storage', 'm.key') }, dir)).toThrow(/is inside data_dir .*Put the key file elsewhere/);
    expect(() => loadConfig({ PLEXICHAT_DATA_DIR: data, PLEXICHAT_BACKUP_ROOT: path.join(dir, 'vault'), PLEXICHAT_KEY_FILE: path.join(dir, 'vault', 'local-a', 'm.key') }, dir)).toThrow(/is inside storage_root/);
    expect(loadConfig({ PLEXICHAT_DATA_DIR: data, PLEXICHAT_KEY_FILE: path.join(dir, 'keys', 'm.key') }, dir).master_key_source).toMatchObject({ path: path.join(dir, 'keys', 'm.key') });
  });
});

describe('locations added in the console', () => {
  it('may not hold the key file, nor be cloud locations while enable_cloud_storage is false', () => {
    const config = { enable_cloud_storage: false, master_key_source: { kind: 'file' as const, path: '/srv/keys/master.key' } };
    expect(locationProblem(config, { name: 'k', type: 'local', path: '/srv' })).toMatch(/at \/srv would hold the master key file \/srv\/keys\/master.key/);
    expect(locationProblem(config, { name: 'ok', type: 'local', path: '/srv/backups' })).toBeNull();
    expect(locationProblem(config, { name: 'b', type: 's3' })).toMatch(/enable_cloud_storage is false/);
    expect(locationProblem({ ...config, enable_cloud_storage: true }, { name: 'b', type: 's3' })).toBeNull();
  });
});

describe("the spec's settings are honoured or refused, never ignored", () => {
  it('min_shard_size and max_shard_size bound the chunks', () => {
    const [min, max] = [900 * 1024, 1200 * 1024];
    const c = loadConfig({ PLEXICHAT_CONFIG: file({ min_shard_size: min, max_shard_size: max }) }, dir);
    expect(c).toMatchObject({ min_shard_size: min, max_shard_size: max });
    const chunker = new Chunker({ mode: 'cdc', avgSize: c.shard_size, minSize: c.min_shard_size, maxSize: c.max_shard_size });
    const sizes: number[] = [];
    const data = randomBytes(24 * 1048576);
    chunker.push(data, (ch) => sizes.push(ch.length));
    expect(sizes.length).toBeGreaterThan(15);
    expect(Math.min(...sizes)).toBeGreaterThanOrEqual(min);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(max);
    // The defaults (avg / 4 … avg × 4) cut well outside those bounds on the same data.
    const free: number[] = [];
    new Chunker({ mode: 'cdc', avgSize: c.shard_size }).push(data, (ch) => free.push(ch.length));
    expect(free.some((n) => n < min || n > max)).toBe(true);
  });

  it('refuses shard bounds outside the safe range or around shard_size', () => {
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ min_shard_size: 1024 }) }, dir)).toThrow(/min_shard_size must be between 262144 and 20971520 bytes/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ max_shard_size: 64 * 1048576 }) }, dir)).toThrow(/max_shard_size must be between/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ min_shard_size: 2 * 1048576 }) }, dir)).toThrow(/min_shard_size 2097152 \(from config file .*\) is larger than shard_size 1048576/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ max_shard_size: 512 * 1024 }) }, dir)).toThrow(/max_shard_size 524288 .* is smaller than shard_size/);
  });

  it('compression_config sets the algorithm and level per kind of data', () => {
    const spec = { text_data: { level: 9, algorithm: 'gzip' }, binary_data: { level: 6, algorithm: 'lz4' }, media_files: { level: 1, algorithm: 'none' } };
    const c = loadConfig({ PLEXICHAT_CONFIG: file({ compression_config: spec }) }, dir);
    expect(c.compression_config).toEqual(spec);
    const text = Buffer.from('the quick brown fox jumps over the lazy dog\n'.repeat(4000));
    expect(chooseCompression(text, 'auto')).toBe('zstd'); // without compression_config
    expect(compressAdaptive(text, 'auto', 3, c.compression_config).algo).toBe('gzip');
    const binary = Buffer.alloc(200_000);
    for (let i = 0; i < binary.length; i++) binary[i] = i % 7 === 0 ? (i * 31) & 0xff : i % 3;
    expect(compressAdaptive(binary, 'auto', 3, c.compression_config).algo).toBe('lz4');
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ compression_config: { video: { algorithm: 'none' } } }) }, dir)).toThrow(/compression_config/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ compression_config: { text_data: { algorithm: 'brotli' } } }) }, dir)).toThrow(/compression_config.text_data.algorithm must be one of zstd, lz4, gzip, none/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ compression_algorithm: 'zstd', compression_config: spec }) }, dir)).toThrow(/applies only with compression_algorithm "auto"/);
  });

  it('enable_cloud_storage: false leaves the cloud locations out', () => {
    const cloud = { aws_s3: { enabled: true, bucket_name: 'plexichat-backups', region: 'us-east-1', storage_class: 'standard' } };
    expect(loadConfig({ PLEXICHAT_CONFIG: file({ enable_cloud_storage: true, replication_factor: 1, cloud_storage: cloud }) }, dir).storage_locations.map((l) => l.type)).toEqual(['s3']);
    const off = loadConfig({ PLEXICHAT_CONFIG: file({ enable_cloud_storage: false, cloud_storage: cloud }) }, dir);
    expect(off.storage_locations.map((l) => l.name)).toEqual(['local-a', 'local-b']);
  });

  it("accepts the spec's storage class names and refuses unknown ones naming the supported ones", () => {
    const loc = (storage_class: string, type = 's3') => ({ name: 'c', type, ...(type === 'azure' ? { container_name: 'box', connection_string: 'UseDevelopmentStorage=true' } : { bucket_name: 'bucket' }), storage_class });
    const cfg = (l: object) => loadConfig({ PLEXICHAT_CONFIG: file({ replication_factor: 1, storage_locations: [l] }) }, dir).storage_locations[0]!;
    // The backends read the keys through these schemas (parseCloudKeys), which name the class the cloud's way.
    expect(s3LocationKeys.parse(cfg(loc('Standard-IA'))).storage_class).toBe('standard_ia');
    expect(s3LocationKeys.parse(cfg(loc('Deep Archive'))).storage_class).toBe('deep_archive');
    expect(azureLocationKeys.parse(cfg(loc('Cool', 'azure'))).storage_class).toBe('cool');
    expect(gcsLocationKeys.parse(cfg(loc('Nearline', 'gcs'))).storage_class).toBe('nearline');
    expect(() => cfg(loc('Intelligent-Tiering'))).toThrow(/storage_class must be one of standard, standard_ia, glacier_ir, glacier, deep_archive/);
  });

  it("maps the spec's alert_thresholds names onto the alert levels", () => {
    const c = loadConfig({ PLEXICHAT_CONFIG: file({ alert_thresholds: { storage_usage: 85, failed_backup_rate: 5 } }) }, dir);
    expect(alertSettings(c).thresholds).toMatchObject({ storage_usage_warning: 85, backup_failure_rate_warning: 5 });
  });
});
