/**
 * Configuration: defaults < JSON config file (PLEXICHAT_CONFIG) < PLEXICHAT_* environment variables.
 * This is the only module that reads process.env for settings; everything else receives a Config.
 */
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import * as z from 'zod';
import { cloudLocationIssues, isSecretKey, knownLocationKeys, locationsFromCloudStorage, withAwsEnvDefaults } from './config-cloud';
import { alertSettings } from './alert-config';
import { ConfigError } from './config-error';
import { closestKey } from './config-keys';
import { COMPRESSION_CLASSES, compressionConfigSchema } from './config-compression';
import { erasureCodingSchema, erasureLocationProblem, parseErasureEnv } from './config-erasure';
import { APP_ROOT } from '../db/paths';
import { defaultDataDir, defaultKeyFile, holdsInstallation, isWithin, legacyDataDir, legacyKeyFile } from './install-paths';

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const MIN_SHARD_SIZE = 256 * KiB;
export const MAX_SHARD_SIZE = 20 * MiB;

export const SECURITY_LEVELS = ['basic', 'standard', 'high', 'maximum', 'government'] as const;
export type SecurityLevel = (typeof SECURITY_LEVELS)[number];

const intIn = (min: number, max: number, range = `${min} and ${max}`) =>
  z
    .number({ error: `must be a whole number between ${range}` })
    .int({ error: `must be a whole number between ${range}` })
    .min(min, { error: `must be between ${range}` })
    .max(max, { error: `must be between ${range}` });

const locationSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, { error: 'must be 1–63 letters, digits, "_", "." or "-"' }),
    type: z.enum(['local', 's3', 'azure', 'gcs']),
    path: z.string().min(1).optional(),
    priority: intIn(0, 1000).default(10),
    max_size_gb: z.number().positive({ error: 'must be a positive number of GB' }).optional(),
    region: z.string().min(1).default('local'),
    enabled: z.boolean().default(true),
  })
  .catchall(z.unknown())
  .superRefine((loc, ctx) => {
    if (loc.type === 'local' && !loc.path) ctx.addIssue({ code: 'custom', path: ['path'], message: 'is required for a local location' });
    for (const issue of cloudLocationIssues(loc as StorageLocationConfig)) ctx.addIssue({ code: 'custom', message: issue });
  });

export type StorageLocationConfig = z.infer<typeof locationSchema>;

/** Security level GOVERNMENT's HSM (PKCS#11). The PIN belongs in PLEXICHAT_HSM_PIN, not in a file. */
const hsmSchema = z.object({
  module: z.string().min(1),
  token_label: z.string().min(1),
  pin: z.string().min(1).optional(),
  key_label: z.string().min(1).default('plexichat-kek'),
});
export type HsmConfig = z.infer<typeof hsmSchema>;

/** An IPv4 or IPv6 network in CIDR notation ("10.0.0.0/8", "fe80::/10"); a bare address means a single host. */
export const cidr = z.string().refine(
  (v) => {
    const [addr, bits, extra] = v.split('/');
    const family = isIP(addr ?? '');
    if (!family || extra !== undefined) return false;
    if (bits === undefined) return true;
    return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
  },
  { error: 'must be an IP network in CIDR notation, e.g. "10.0.0.0/8" or "fe80::/10"' },
);

/**
 * Networks the product never connects to unless told otherwise: link-local (and so the cloud metadata
 * services at 169.254.169.254 and fd00:ec2::254), Alibaba's metadata address, and "this network".
 */
export const DEFAULT_DENIED_NETWORKS = ['169.254.0.0/16', 'fe80::/10', 'fd00:ec2::254/128', '100.100.100.200/32', '0.0.0.0/8'];

const outboundSchema = z.strictObject({
  /** No outbound request (storage, Slack, webhook, SMTP) may reach an address in these networks. */
  denied_networks: z.array(cidr).default(DEFAULT_DENIED_NETWORKS),
  /** When set, outbound requests may reach only these networks (the denied list still applies). */
  allowed_networks: z.array(cidr).optional(),
});
export type OutboundPolicyConfig = z.infer<typeof outboundSchema>;

const absoluteDir = z.string().refine((v) => path.isAbsolute(v) && !v.split(/[\\/]/).includes('..'), { error: 'must be an absolute directory without ".."' });

const configSchema = z.object({
  data_dir: z.string().min(1),
  /** The generated master key's file (when PLEXICHAT_ENCRYPTION_KEY is not set); see server/install-paths.ts for the default. */
  key_file: z.string().min(1).optional(),
  storage_root: z.string().min(1),
  database_url: z.string().optional(),
  shard_size: intIn(MIN_SHARD_SIZE, MAX_SHARD_SIZE, `${MIN_SHARD_SIZE} and ${MAX_SHARD_SIZE} bytes (256 KiB–20 MiB)`),
  /** The spec's bounds on a shard's size: the content-defined chunker never cuts below / above them. */
  min_shard_size: intIn(MIN_SHARD_SIZE, MAX_SHARD_SIZE, `${MIN_SHARD_SIZE} and ${MAX_SHARD_SIZE} bytes (256 KiB–20 MiB)`).optional(),
  max_shard_size: intIn(MIN_SHARD_SIZE, MAX_SHARD_SIZE, `${MIN_SHARD_SIZE} and ${MAX_SHARD_SIZE} bytes (256 KiB–20 MiB)`).optional(),
  chunking: z.enum(['cdc', 'fixed']),
  replication_factor: intIn(1, 10),
  /** Reed-Solomon pieces across locations instead of replicas for backup data (server/config-erasure.ts). */
  erasure_coding: erasureCodingSchema(SECURITY_LEVELS).optional(),
  retention_days: intIn(1, 36500),
  full_backup_retention_days: intIn(1, 36500).optional(),
  incremental_backup_retention_days: intIn(1, 36500).optional(),
  snapshot_retention_days: intIn(1, 36500).optional(),
  enable_compression: z.boolean(),
  compression_level: intIn(1, 19),
  compression_algorithm: z.enum(['auto', 'zstd', 'lz4', 'gzip', 'none']),
  /** The spec's per-data-type compression (text_data, binary_data, media_files), used by compression_algorithm "auto". */
  compression_config: compressionConfigSchema.optional(),
  /** The spec's switch: false disables every cloud location (s3, azure, gcs) from the config. */
  enable_cloud_storage: z.boolean().default(true),
  enable_deduplication: z.boolean(),
  default_security_level: z.enum(SECURITY_LEVELS),
  enable_encryption: z.boolean(),
  key_rotation_days: intIn(1, 3650),
  max_concurrent_backups: intIn(1, 64),
  enable_health_monitoring: z.boolean(),
  health_check_interval: intIn(5, 86400, '5 and 86400 seconds'),
  /** Hours between two runs of the daily maintenance (expired-backup cleanup, orphan sweep); 0 turns it off. */
  cleanup_interval_hours: intIn(0, 8760, '0 (off) and 8760 hours'),
  /** optimize_storage_locations in the daily maintenance: at most this many GB copied per run (the rest waits for the next run); 0 leaves it to `storage optimize`. */
  optimize_budget_gb_per_run: z.number().min(0).max(1_000_000).default(10),
  cloud_retries: intIn(0, 20),
  storage_retry_backoff_seconds: z.number().min(0).max(60),
  storage_timeout_seconds: z.number().positive().max(3600),
  public_url: z.string().url(),
  storage_locations: z.array(locationSchema),
  cloud_storage: z.record(z.string(), z.unknown()).default({}),
  alerts: z.record(z.string(), z.unknown()).default({}),
  alert_thresholds: z.record(z.string(), z.number()).default({}),
  hsm: hsmSchema.optional(),
  /** HIGH/MAXIMUM second factor as a key file (outside data_dir and every storage location); or PLEXICHAT_HIGH_PASSPHRASE. */
  high_key_file: z.string().min(1).optional(),
  /** Where operators may back up from through the console and API (admins: anywhere but the installation's own files). */
  allowed_backup_paths: z.array(absoluteDir).default([]),
  /** Where operators may restore to through the console and API. */
  allowed_restore_paths: z.array(absoluteDir).default([]),
  outbound: outboundSchema.default({ denied_networks: DEFAULT_DENIED_NETWORKS }),
  /** Peers whose X-Forwarded-For header is believed (reverse proxies); nobody else's is. */
  trusted_proxies: z.array(cidr).default([]),
  /** Largest upload accepted by the console, in MiB (streamed to a temporary file, never held in memory). */
  max_upload_mb: intIn(1, 1024 * 1024),
});

export type Config = z.infer<typeof configSchema> & {
  /** Where the master key came from: the environment, or a key file (key_file; generated when missing). */
  master_key_source: ({ kind: 'env'; value: string } | { kind: 'file'; path: string; /** Logged once: how to move a key found in data_dir. */ hint?: string }) & {
    /** Keys replaced by a rotation, still accepted to open what they wrapped (PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS). */
    previous?: string[];
  };
  /** Things the admin should know about where the installation is (e.g. an old data_dir in use); printed at start. */
  notices?: string[];
  /** The second factor of HIGH and MAXIMUM (docs/security-levels.md): a passphrase from the environment, a key file, or none. */
  second_factor_source?: { kind: 'env'; value: string } | { kind: 'file'; path: string } | null;
};

/** The environment as configuration sees it (kept loose so tests can pass a plain object). */
export type Env = Record<string, string | undefined>;

export { ConfigError };

/** Environment variables the spec names, mapped to config keys and parsers. */
const ENV_KEYS: Record<string, [key: string, parse: (v: string) => unknown]> = {
  PLEXICHAT_DATA_DIR: ['data_dir', String],
  PLEXICHAT_KEY_FILE: ['key_file', String],
  PLEXICHAT_HIGH_KEY_FILE: ['high_key_file', String],
  PLEXICHAT_BACKUP_ROOT: ['storage_root', String],
  DATABASE_URL: ['database_url', String],
  PLEXICHAT_SHARD_SIZE: ['shard_size', Number],
  PLEXICHAT_CHUNKING: ['chunking', String],
  PLEXICHAT_REPLICATION_FACTOR: ['replication_factor', Number],
  PLEXICHAT_ERASURE_CODING: ['erasure_coding', parseErasureEnv],
  PLEXICHAT_RETENTION_DAYS: ['retention_days', Number],
  PLEXICHAT_ENABLE_COMPRESSION: ['enable_compression', parseBool],
  PLEXICHAT_COMPRESSION_LEVEL: ['compression_level', Number],
  PLEXICHAT_COMPRESSION_ALGORITHM: ['compression_algorithm', String],
  PLEXICHAT_ENABLE_DEDUPLICATION: ['enable_deduplication', parseBool],
  PLEXICHAT_SECURITY_LEVEL: ['default_security_level', (v) => v.toLowerCase()],
  PLEXICHAT_ENABLE_ENCRYPTION: ['enable_encryption', parseBool],
  PLEXICHAT_MAX_CONCURRENT_BACKUPS: ['max_concurrent_backups', Number],
  PLEXICHAT_HEALTH_CHECK_INTERVAL: ['health_check_interval', Number],
  PLEXICHAT_CLEANUP_INTERVAL_HOURS: ['cleanup_interval_hours', Number],
  PLEXICHAT_OPTIMIZE_BUDGET_GB: ['optimize_budget_gb_per_run', Number],
  PLEXICHAT_CLOUD_RETRIES: ['cloud_retries', Number],
  PLEXICHAT_PUBLIC_URL: ['public_url', String],
  PLEXICHAT_ALLOWED_BACKUP_PATHS: ['allowed_backup_paths', (v) => v.split(':').filter(Boolean)],
  PLEXICHAT_ALLOWED_RESTORE_PATHS: ['allowed_restore_paths', (v) => v.split(':').filter(Boolean)],
  PLEXICHAT_TRUSTED_PROXIES: ['trusted_proxies', (v) => v.split(',').map((x) => x.trim()).filter(Boolean)],
  PLEXICHAT_MAX_UPLOAD_MB: ['max_upload_mb', Number],
};

function parseBool(v: string): unknown {
  if (/^(1|true|yes|on)$/i.test(v)) return true;
  if (/^(0|false|no|off)$/i.test(v)) return false;
  return v;
}

function defaults(env: Env): Record<string, unknown> {
  const port = env.PORT ?? '3000';
  return {
    shard_size: MiB,
    chunking: 'cdc',
    replication_factor: 2,
    retention_days: 90,
    enable_compression: true,
    // zstd-2: within 2-3% of zstd-3's size on /usr/lib and /usr/share (1 MiB shards) for ~2/3 of its CPU.
    compression_level: 2,
    compression_algorithm: 'auto',
    enable_deduplication: true,
    default_security_level: 'standard',
    enable_encryption: true,
    key_rotation_days: 30,
    max_concurrent_backups: 5,
    enable_health_monitoring: true,
    health_check_interval: 300,
    cleanup_interval_hours: 24,
    cloud_retries: 3,
    storage_retry_backoff_seconds: 0.5,
    storage_timeout_seconds: 60,
    public_url: `http://localhost:${port}`,
    storage_locations: [],
    max_upload_mb: 1024,
  };
}

/**
 * An admin's path (config file, data_dir, a location) made absolute. These are the machine's folders, never
 * the application's files: the comment keeps Turbopack's output tracing from treating a path derived from
 * process.cwd() as "the whole project is read at run time" (and copying it all into the build's trace).
 */
const fromCwd = (cwd: string, p: string) => path.resolve(/*turbopackIgnore: true*/ cwd, p);

/**
 * Loads and validates the configuration. Throws ConfigError naming the key, the allowed range and the source.
 */
export function loadConfig(env: Env = process.env, cwd = process.cwd()): Config {
  const merged: Record<string, unknown> = defaults(env);
  const source: Record<string, string> = {};
  const file = env.PLEXICHAT_CONFIG;
  if (file) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(fromCwd(cwd, file), 'utf8'));
    } catch (err) {
      throw new ConfigError(`Cannot read config file ${file} (PLEXICHAT_CONFIG): ${(err as Error).message}. Fix the JSON or point PLEXICHAT_CONFIG at a valid file.`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ConfigError(`Config file ${file} must hold a JSON object of settings.`);
    }
    const unknown = unknownKeys(parsed as Record<string, unknown>);
    if (unknown.length) throw new ConfigError(`Invalid configuration in ${file} (PLEXICHAT_CONFIG): ${unknown.join('; ')}. Fix the spelling or remove the setting.`);
    for (const [k, v] of Object.entries(parsed)) {
      merged[k] = v;
      source[k] = `config file ${file}`;
    }
  }
  for (const [name, [key, parse]] of Object.entries(ENV_KEYS)) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    merged[key] = parse(raw);
    source[key] = `environment variable ${name}`;
  }
  const hsmEnv = { module: env.PLEXICHAT_HSM_MODULE, token_label: env.PLEXICHAT_HSM_TOKEN_LABEL, pin: env.PLEXICHAT_HSM_PIN, key_label: env.PLEXICHAT_HSM_KEY_LABEL };
  if (Object.values(hsmEnv).some(Boolean)) {
    const fromFile = merged.hsm && typeof merged.hsm === 'object' ? (merged.hsm as Record<string, unknown>) : {};
    merged.hsm = { ...fromFile, ...Object.fromEntries(Object.entries(hsmEnv).filter(([, v]) => v)) };
    source.hsm = 'environment variables PLEXICHAT_HSM_*';
  }
  try {
    // Cloud locations: the spec's `cloud_storage` block, plus PLEXICHAT_AWS_* defaults for s3 locations.
    const listed = Array.isArray(merged.storage_locations) ? (merged.storage_locations as StorageLocationConfig[]) : [];
    const cloud = merged.cloud_storage && typeof merged.cloud_storage === 'object' ? (merged.cloud_storage as Record<string, unknown>) : {};
    merged.storage_locations = [...listed.map((l) => (l && typeof l === 'object' ? withAwsEnvDefaults(l, env) : l)), ...locationsFromCloudStorage(cloud, env)];
  } catch (err) {
    throw new ConfigError(`Invalid configuration: ${(err as Error).message}`);
  }
  const notices: string[] = [];
  merged.data_dir = merged.data_dir === undefined ? defaultInstallDir(env, notices) : fromCwd(cwd, String(merged.data_dir));
  if (typeof merged.key_file === 'string') merged.key_file = fromCwd(cwd, merged.key_file);
  if (merged.enable_cloud_storage === false && Array.isArray(merged.storage_locations)) {
    merged.storage_locations = (merged.storage_locations as StorageLocationConfig[]).filter((l) => !l || typeof l !== 'object' || l.type === 'local');
  }
  merged.storage_root = fromCwd(cwd, String(merged.storage_root ?? path.join(String(merged.data_dir), 'storage')));

  const result = configSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((issue) => {
      const key = issue.path.join('.');
      const top = String(issue.path[0] ?? '');
      const got = issue.path.reduce<unknown>((o, p) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[p as string] : undefined), merged);
      return `${key} ${issue.message}; got ${JSON.stringify(redact(got, issue.path.map(String)))}${source[top] ? ` (from ${source[top]})` : ''}`;
    });
    throw new ConfigError(`Invalid configuration: ${lines.join('; ')}`);
  }
  const cfg = result.data;
  if (cfg.storage_locations.length === 0) {
    // Two local locations under storage_root, so the default replication factor of 2 holds out of the box.
    cfg.storage_locations = ['local-a', 'local-b'].map((name, i) => ({
      name,
      type: 'local' as const,
      path: path.join(/*turbopackIgnore: true*/ cfg.storage_root, name),
      priority: 10 + i,
      region: 'local',
      enabled: true,
    }));
  } else {
    for (const loc of cfg.storage_locations) if (loc.path) loc.path = fromCwd(cwd, loc.path);
  }
  const names = new Set<string>();
  for (const loc of cfg.storage_locations) {
    if (names.has(loc.name)) throw new ConfigError(`Invalid configuration: storage_locations has two locations named "${loc.name}"; names must be unique.`);
    names.add(loc.name);
  }
  const enabled = cfg.storage_locations.filter((l) => l.enabled).length;
  if (enabled < cfg.replication_factor) {
    throw new ConfigError(
      `Invalid configuration: replication_factor is ${cfg.replication_factor} but only ${enabled} storage location(s) are enabled; add locations under storage_locations or lower replication_factor.`,
    );
  }
  const erasureProblem = erasureLocationProblem(cfg.erasure_coding, enabled);
  if (erasureProblem) throw new ConfigError(erasureProblem);
  alertSettings(cfg); // the alerts block is checked at start like the rest (throws ConfigError naming the field)
  checkShardBounds(cfg, source);
  const key = env.PLEXICHAT_ENCRYPTION_KEY;
  const keySource = key ? { kind: 'env' as const, value: key } : keyFileSource(cfg, env);
  if (keySource.kind === 'file' && !keySource.hint) checkKeyFilePlace(keySource.path, cfg, source.key_file ?? 'the default key_file');
  return {
    ...cfg,
    second_factor_source: secondFactorSource(cfg, env, cwd, keySource.kind === 'file' ? keySource.path : null),
    master_key_source: {
      ...keySource,
      previous: (env.PLEXICHAT_PREVIOUS_ENCRYPTION_KEYS ?? '').split(',').map((k) => k.trim()).filter(Boolean),
    },
    ...(notices.length ? { notices } : {}),
  };
}

/**
 * data_dir when nothing sets it: the per-machine default, or the app folder's `.plexichat` of an older
 * release while the default holds nothing (so an upgrade does not start a second, empty installation).
 */
function defaultInstallDir(env: Env, notices: string[]): string {
  const dir = defaultDataDir(env);
  const legacy = legacyDataDir(env.PLEXICHAT_APP_ROOT ?? APP_ROOT);
  if (!existsSync(dir) && holdsInstallation(legacy)) {
    notices.push(`Using the installation in ${legacy} (the old default data_dir). Move it to ${dir}, or set PLEXICHAT_DATA_DIR=${legacy} to keep it where it is.`);
    return legacy;
  }
  return dir;
}

/** The master key file: key_file, else a key an older release generated in data_dir, else the default place. */
function keyFileSource(cfg: z.infer<typeof configSchema>, env: Env): { kind: 'file'; path: string; hint?: string } {
  if (cfg.key_file) return { kind: 'file', path: cfg.key_file };
  const legacy = legacyKeyFile(cfg.data_dir);
  const target = defaultKeyFile(env, cfg.data_dir);
  if (existsSync(legacy) && !existsSync(target)) {
    return {
      kind: 'file',
      path: legacy,
      hint: `The master key is in ${legacy}, beside the catalog; keys belong apart from the data they open. Move it: mkdir -m 700 -p ${path.dirname(target)} && mv ${legacy} ${target} (and ${legacy}.previous, if present), or set key_file (PLEXICHAT_KEY_FILE) to where you keep it.`,
    };
  }
  return { kind: 'file', path: target };
}

/** A key file stored with the data it opens protects nothing: refuse one inside data_dir, storage_root or a local location. */
function checkKeyFilePlace(keyFile: string, cfg: z.infer<typeof configSchema>, from: string): void {
  const places = [
    { what: 'data_dir', dir: cfg.data_dir },
    { what: 'storage_root', dir: cfg.storage_root },
    ...cfg.storage_locations.filter((l) => l.type === 'local' && l.path).map((l) => ({ what: `storage location "${l.name}"`, dir: l.path! })),
  ];
  const inside = places.find((p) => isWithin(keyFile, p.dir));
  if (inside) {
    throw new ConfigError(
      `Invalid configuration: key_file ${keyFile} (from ${from}) is inside ${inside.what} ${inside.dir}; whoever copies that folder would get the key with the data. Put the key file elsewhere (e.g. ${defaultKeyFile({}, cfg.data_dir)}).`,
    );
  }
}

/** min_shard_size ≤ shard_size ≤ max_shard_size: the chunker cuts within them. */
function checkShardBounds(cfg: z.infer<typeof configSchema>, source: Record<string, string>): void {
  const from = (k: string) => (source[k] ? ` (from ${source[k]})` : '');
  if (cfg.min_shard_size !== undefined && cfg.min_shard_size > cfg.shard_size) {
    throw new ConfigError(`Invalid configuration: min_shard_size ${cfg.min_shard_size}${from('min_shard_size')} is larger than shard_size ${cfg.shard_size}; it must be at most shard_size.`);
  }
  if (cfg.max_shard_size !== undefined && cfg.max_shard_size < cfg.shard_size) {
    throw new ConfigError(`Invalid configuration: max_shard_size ${cfg.max_shard_size}${from('max_shard_size')} is smaller than shard_size ${cfg.shard_size}; it must be at least shard_size.`);
  }
  if (cfg.compression_config && cfg.compression_algorithm !== 'auto') {
    throw new ConfigError(
      `Invalid configuration: compression_config (per data type: ${COMPRESSION_CLASSES.join(', ')}) applies only with compression_algorithm "auto", but compression_algorithm is "${cfg.compression_algorithm}"${from('compression_algorithm')}; remove one of them.`,
    );
  }
}

/**
 * HIGH/MAXIMUM's second factor: PLEXICHAT_HIGH_PASSPHRASE or high_key_file, not both. A key file inside
 * data_dir or a storage location would sit beside what it protects: refused.
 */
function secondFactorSource(cfg: z.infer<typeof configSchema>, env: Env, cwd: string, masterKeyFile: string | null): Config['second_factor_source'] {
  const pass = env.PLEXICHAT_HIGH_PASSPHRASE;
  if (pass !== undefined && pass !== '' && cfg.high_key_file) throw new ConfigError('Invalid configuration: both PLEXICHAT_HIGH_PASSPHRASE and high_key_file are set; the HIGH/MAXIMUM second factor is one of them, not both.');
  if (pass !== undefined && pass !== '') {
    if (pass.length < 12) throw new ConfigError('Invalid configuration: PLEXICHAT_HIGH_PASSPHRASE must be at least 12 characters (a passphrase of several words).');
    return { kind: 'env', value: pass };
  }
  if (!cfg.high_key_file) return null;
  const file = path.resolve(cwd, cfg.high_key_file);
  const inside = (dir: string) => {
    const rel = path.relative(path.resolve(dir), file);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  };
  const near = [cfg.data_dir, cfg.storage_root, ...cfg.storage_locations.filter((l) => l.type === 'local' && l.path).map((l) => l.path!)].find(inside);
  if (near) throw new ConfigError(`Invalid configuration: high_key_file ${file} is inside ${near}, beside the data it protects; keep the HIGH/MAXIMUM key file elsewhere (another disk, a mounted secret, a vault agent's file).`);
  if (masterKeyFile && (file === path.resolve(masterKeyFile) || path.dirname(file) === path.dirname(path.resolve(masterKeyFile)))) {
    throw new ConfigError(`Invalid configuration: high_key_file ${file} is beside the master key file ${masterKeyFile}; the second factor must be kept apart from the master key (another disk, a mounted secret, a vault agent's file).`);
  }
  return { kind: 'file', path: file };
}

/** Settings the config file may hold that are not in the schema: the spec's block that becomes storage locations. */
const FILE_ONLY_KEYS = ['cloud_storage'];

/** Keys of the config file that no setting has, each with the closest known name: a typo must not silently fall back to a default. */
function unknownKeys(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const check = (obj: unknown, known: string[], where: string) => {
    if (!obj || typeof obj !== 'object' || Array.isArray(obj)) return;
    for (const k of Object.keys(obj)) {
      if (known.includes(k)) continue;
      const near = closestKey(k, known);
      problems.push(`unknown setting "${where}${k}"${near ? ` (did you mean "${where}${near}"?)` : ''}`);
    }
  };
  check(doc, [...Object.keys(configSchema.shape), ...FILE_ONLY_KEYS], '');
  check(doc.hsm, Object.keys(hsmSchema.shape), 'hsm.');
  check(doc.outbound, Object.keys(outboundSchema.shape), 'outbound.');
  if (Array.isArray(doc.storage_locations)) {
    doc.storage_locations.forEach((loc, i) => {
      if (!loc || typeof loc !== 'object') return;
      const type = String((loc as { type?: unknown }).type);
      check(loc, [...Object.keys(locationSchema.shape), ...knownLocationKeys(type)], `storage_locations.${i}.`);
    });
  }
  return problems;
}

const isSecretName = (k: string) => k === 'pin' || isSecretKey(k);

/** A value quoted in a config error, with every secret in it (a PIN, a credential) masked. */
function redact(value: unknown, pathKeys: string[]): unknown {
  if (pathKeys.some(isSecretName)) return value === undefined ? undefined : '••••';
  if (Array.isArray(value)) return value.map((v) => redact(v, []));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, isSecretName(k) ? '••••' : redact(v, [])]));
  return value;
}
