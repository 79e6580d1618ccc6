/**
 * Cloud storage configuration: the spec's `cloud_storage` block turned into storage locations, the keys each
 * cloud location type accepts (one schema, used both when loading the config and by the backends), the
 * PLEXICHAT_AWS_* environment overrides, and masking of credentials for display.
 */
import * as z from 'zod';
import type { StorageLocationFields as StorageLocationConfig } from './config-location';
import { immutabilityIssues } from './config-immutability';

const optionalText = z.string().min(1).optional();
const pageSize = z.number().int().min(1).max(5000).optional();
const prefix = z
  .string()
  .regex(/^(?:[^/]+\/)*[^/]*$/, { error: 'must be a relative path such as "plexichat/" (no leading "/" or "//")' })
  .default('');

export const S3_STORAGE_CLASSES = { standard: 'STANDARD', standard_ia: 'STANDARD_IA', glacier_ir: 'GLACIER_IR', glacier: 'GLACIER', deep_archive: 'DEEP_ARCHIVE' } as const;
export const AZURE_ACCESS_TIERS = { hot: 'Hot', cool: 'Cool', cold: 'Cold', archive: 'Archive' } as const;
export const GCS_STORAGE_CLASSES = { standard: 'STANDARD', nearline: 'NEARLINE', coldline: 'COLDLINE', archive: 'ARCHIVE' } as const;

const lower = (v: unknown) => (typeof v === 'string' ? v.toLowerCase() : v);
/** The spec writes storage classes as "Standard-IA", "Deep Archive", "hot": any case, "-" or " " for "_". */
const className = (v: unknown) => (typeof v === 'string' ? v.trim().toLowerCase().replace(/[\s-]+/g, '_') : v);
const storageClass = <T extends Record<string, string>>(classes: T) =>
  z.preprocess(className, z.enum(Object.keys(classes) as [keyof T & string, ...(keyof T & string)[]], { error: `must be one of ${Object.keys(classes).join(', ')}` }));

export const s3LocationKeys = z
  .object({
    bucket_name: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'must be a valid S3 bucket name (3–63 lowercase letters, digits, "." or "-")' }),
    region: z.string().min(1).optional(),
    access_key_id: optionalText,
    secret_access_key: optionalText,
    session_token: optionalText,
    /** Absent: no storage-class header, so the store's default applies (STANDARD on AWS). */
    storage_class: storageClass(S3_STORAGE_CLASSES).optional(),
    server_side_encryption: z.enum(['AES256', 'aws:kms', 'aws:kms:dsse']).optional(),
    kms_key_id: optionalText,
    endpoint: z.url().optional(),
    force_path_style: z.boolean().default(false),
    prefix,
    list_page_size: pageSize,
    /** ListObjects version: 2 (AWS's recommendation) or 1 for S3-compatibles with a missing or broken V2 (as rclone's list_version). */
    list_version: z.union([z.literal(1), z.literal(2)]).default(2),
    /** How long a rehydrated Glacier copy stays readable, and how fast it is produced. */
    restore_days: z.number().int().min(1).max(365).default(7),
    restore_tier: z.enum(['Standard', 'Bulk', 'Expedited']).default('Standard'),
  })
  .refine((k) => !k.access_key_id === !k.secret_access_key, { error: 'must be given together with access_key_id (both or neither)', path: ['secret_access_key'] });
export type S3LocationKeys = z.infer<typeof s3LocationKeys>;

export const azureLocationKeys = z
  .object({
    container_name: z.string().regex(/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/, { error: 'must be a valid container name (3–63 lowercase letters, digits or single "-")' }),
    connection_string: optionalText,
    account_name: optionalText,
    account_key: optionalText,
    sas_token: optionalText,
    /** The blob service URL, e.g. http://127.0.0.1:10000/devstoreaccount1 for Azurite. */
    blob_endpoint: z.url().optional(),
    endpoint: z.url().optional(),
    /** Absent: the account's default access tier. */
    storage_class: storageClass(AZURE_ACCESS_TIERS).optional(),
    prefix,
    list_page_size: pageSize,
    rehydrate_priority: z.enum(['Standard', 'High']).default('Standard'),
    rehydrate_tier: z.preprocess(lower, z.enum(['hot', 'cool', 'cold'])).default('hot'),
  })
  .refine((k) => k.connection_string || (k.account_name && (k.account_key || k.sas_token)), {
    error: 'is required, unless account_name is given with account_key or sas_token',
    path: ['connection_string'],
  });
export type AzureLocationKeys = z.infer<typeof azureLocationKeys>;

export const gcsLocationKeys = z.object({
  bucket_name: z.string().regex(/^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/, { error: 'must be a valid GCS bucket name' }),
  project: optionalText,
  /** Path to a service-account key file, or the key's JSON itself. Absent: application default credentials. */
  credentials_json: optionalText,
  /** Absent: the bucket's default storage class. */
  storage_class: storageClass(GCS_STORAGE_CLASSES).optional(),
  /** Bucket location used when init() creates the bucket (e.g. "US", "europe-west1"). */
  location: optionalText,
  api_endpoint: z.url().optional(),
  prefix,
  list_page_size: pageSize,
});
export type GcsLocationKeys = z.infer<typeof gcsLocationKeys>;

const KEY_SCHEMAS: Record<string, z.ZodType> = { s3: s3LocationKeys, azure: azureLocationKeys, gcs: gcsLocationKeys };

/** The keys a location of this type may hold beyond the common ones (empty for local and unknown types). */
export function knownLocationKeys(type: string): string[] {
  const schema = KEY_SCHEMAS[type];
  const own = schema && 'shape' in schema ? Object.keys((schema as unknown as z.ZodObject).shape) : [];
  return [...own, type === 'local' ? 'append_only' : 'immutability'];
}

/** Problems with a cloud location's keys, each naming the location and key; empty when valid or not a cloud type. */
export function cloudLocationIssues(loc: StorageLocationConfig): string[] {
  const locks = immutabilityIssues(loc);
  const schema = KEY_SCHEMAS[loc.type];
  if (!schema) return locks;
  const r = schema.safeParse(loc);
  if (r.success) return locks;
  return [...r.error.issues.map((i) => `storage location "${loc.name}" (${loc.type}): ${i.path.join('.') || 'keys'} ${i.message}`), ...locks];
}

export class CloudConfigError extends Error {
  override readonly name = 'CloudConfigError';
}

/**
 * Parses a location's keys for its backend. Throws CloudConfigError listing every problem, or the error
 * `toError` builds from a message that does not repeat the location name (backends throw StorageError).
 */
export function parseCloudKeys<T extends z.ZodType>(schema: T, loc: StorageLocationConfig, toError?: (message: string) => Error): z.infer<T> {
  const r = schema.safeParse(loc);
  if (r.success) return r.data;
  const issues = r.error.issues.map((i) => `${i.path.join('.') || 'keys'} ${i.message}`).join('; ');
  if (toError) throw toError(`misconfigured ${loc.type} location: ${issues}; fix its settings in the configuration`);
  throw new CloudConfigError(`storage location "${loc.name}" (${loc.type}) is misconfigured: ${issues}`);
}

const PROVIDERS = {
  aws_s3: { name: 'aws-s3', type: 's3', region: 'us-east-1' },
  azure_blob: { name: 'azure-blob', type: 'azure', region: 'azure' },
  google_cloud: { name: 'google-cloud', type: 'gcs', region: 'gcp' },
} as const;

const DEFAULT_CLOUD_PRIORITY = 20;

/** The environment, loosely typed so process.env and plain test objects both fit. */
type EnvVars = Readonly<Record<string, string | undefined>>;

/**
 * The spec's `cloud_storage` form as storage locations named aws-s3, azure-blob and google-cloud. An entry
 * without `enabled` counts as enabled (as in storage_locations); `enabled: false` drops it. The S3 one gets
 * the PLEXICHAT_AWS_* overrides, and is created from them alone when PLEXICHAT_AWS_BUCKET is set and
 * cloud_storage has no aws_s3 entry. The result still goes through the storage_locations schema.
 */
export function locationsFromCloudStorage(cloudStorage: Record<string, unknown>, env: EnvVars): StorageLocationConfig[] {
  const out: StorageLocationConfig[] = [];
  for (const [provider, entry] of Object.entries(cloudStorage)) {
    const p = PROVIDERS[provider as keyof typeof PROVIDERS];
    if (!p) throw new CloudConfigError(`cloud_storage.${provider} is not a supported provider; use ${Object.keys(PROVIDERS).join(', ')}`);
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new CloudConfigError(`cloud_storage.${provider} must be an object of settings`);
    }
    const e = entry as Record<string, unknown>;
    if (e.enabled === false) continue;
    const loc: StorageLocationConfig = {
      ...e,
      name: typeof e.name === 'string' ? e.name : p.name,
      type: p.type,
      priority: typeof e.priority === 'number' ? e.priority : DEFAULT_CLOUD_PRIORITY,
      region: typeof e.region === 'string' && e.region ? e.region : p.region,
      enabled: true,
    };
    out.push(p.type === 's3' ? applyAwsEnv(loc, env, 'override') : loc);
  }
  if (!('aws_s3' in cloudStorage) && env.PLEXICHAT_AWS_BUCKET) {
    const base: StorageLocationConfig = { name: PROVIDERS.aws_s3.name, type: 's3', priority: DEFAULT_CLOUD_PRIORITY, region: 'us-east-1', enabled: true };
    out.push(applyAwsEnv(base, env, 'override'));
  }
  return out;
}

/** For s3 locations in storage_locations: fills missing credentials, bucket and region from PLEXICHAT_AWS_*. */
export function withAwsEnvDefaults(loc: StorageLocationConfig, env: EnvVars): StorageLocationConfig {
  return loc.type === 's3' ? applyAwsEnv(loc, env, 'fill') : loc;
}

function applyAwsEnv(loc: StorageLocationConfig, env: EnvVars, mode: 'override' | 'fill'): StorageLocationConfig {
  const out: StorageLocationConfig = { ...loc };
  const set = (key: string, value: string | undefined, missing: boolean) => {
    if (value && (mode === 'override' || missing)) out[key] = value;
  };
  const hasCreds = Boolean(loc.access_key_id || loc.secret_access_key);
  // Credentials come as a pair: never mix an env key id with a configured secret.
  if (env.PLEXICHAT_AWS_ACCESS_KEY && env.PLEXICHAT_AWS_SECRET_KEY) {
    set('access_key_id', env.PLEXICHAT_AWS_ACCESS_KEY, !hasCreds);
    set('secret_access_key', env.PLEXICHAT_AWS_SECRET_KEY, !hasCreds);
  }
  set('bucket_name', env.PLEXICHAT_AWS_BUCKET, !loc.bucket_name);
  set('region', env.PLEXICHAT_AWS_REGION, !loc.region || loc.region === 'local');
  return out;
}

const SECRET_KEYS = new Set(['secret_access_key', 'access_key_id', 'session_token', 'account_key', 'connection_string', 'sas_token', 'sas', 'password', 'client_secret', 'private_key']);
const SECRET_PATTERN = /(secret|password|token|credential|connection_string|account_key|private_key)/i;

/** Whether a location key holds a credential (what maskSecrets masks, and what the console store seals). */
export function isSecretKey(key: string): boolean {
  return key === 'credentials_json' || SECRET_KEYS.has(key) || SECRET_PATTERN.test(key);
}

/** A copy for display with every credential replaced by "••••" plus at most its last 4 characters. */
export function maskSecrets<T extends Record<string, unknown>>(loc: T): T {
  const out: Record<string, unknown> = { ...loc };
  for (const [key, value] of Object.entries(loc)) {
    if (typeof value !== 'string' || !value) continue;
    // credentials_json is usually a file path (shown as is); inline key JSON is a secret.
    if (key === 'credentials_json' && !value.trimStart().startsWith('{')) continue;
    if (SECRET_KEYS.has(key) || SECRET_PATTERN.test(key)) out[key] = mask(value, key === 'credentials_json' || key === 'connection_string');
  }
  return out as T;
}

function mask(value: string, whole: boolean): string {
  // Short values and structured ones (JSON, connection strings) would leak too much through their tail.
  if (whole || value.length < 12) return '••••';
  return `••••${value.slice(-4)}`;
}
