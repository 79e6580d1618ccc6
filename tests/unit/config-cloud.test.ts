import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CloudConfigError,
  cloudLocationIssues,
  locationsFromCloudStorage,
  maskSecrets,
  parseCloudKeys,
  s3LocationKeys,
  withAwsEnvDefaults,
} from '../../server/config-cloud';
import { loadConfig, type StorageLocationConfig } from '../../server/config';

const env = (vars: Record<string, string> = {}): Record<string, string> => vars;

/** The three examples of the spec's "Cloud Storage Integration" section, together. */
const SPEC_EXAMPLE = {
  aws_s3: { enabled: true, bucket_name: 'plexichat-backups', access_key_id: 'YOUR_ACCESS_KEY', secret_access_key: 'YOUR_SECRET_KEY', region: 'us-east-1', storage_class: 'standard', max_size_gb: 1000 },
  azure_blob: { enabled: true, container_name: 'plexichat-backups', connection_string: 'DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5a2V5a2V5;EndpointSuffix=core.windows.net', account_name: 'your_account', account_key: 'your_key', storage_class: 'hot', max_size_gb: 1000 },
  google_cloud: { enabled: true, bucket_name: 'plexichat-backups', project: 'your-project-id', credentials_json: '/path/to/service-account.json', storage_class: 'standard', max_size_gb: 1000 },
};

const s3 = (extra: Record<string, unknown> = {}): StorageLocationConfig => ({ name: 'my-s3', type: 's3', priority: 10, region: 'local', enabled: true, ...extra });

describe('locationsFromCloudStorage', () => {
  it('turns the spec form into aws-s3, azure-blob and google-cloud locations with priority 20', () => {
    const locs = locationsFromCloudStorage(SPEC_EXAMPLE, env());
    expect(locs.map((l) => [l.name, l.type, l.priority, l.enabled])).toEqual([
      ['aws-s3', 's3', 20, true],
      ['azure-blob', 'azure', 20, true],
      ['google-cloud', 'gcs', 20, true],
    ]);
    const [aws, azure, gcs] = locs;
    expect(aws).toMatchObject({ bucket_name: 'plexichat-backups', access_key_id: 'YOUR_ACCESS_KEY', region: 'us-east-1', storage_class: 'standard', max_size_gb: 1000 });
    // Regions label where a replica lives; the spec gives none for Azure and GCS.
    expect(azure).toMatchObject({ container_name: 'plexichat-backups', region: 'azure' });
    expect(gcs).toMatchObject({ project: 'your-project-id', credentials_json: '/path/to/service-account.json', region: 'gcp' });
    for (const l of locs) expect(cloudLocationIssues(l)).toEqual([]);
  });

  it('drops disabled entries, counts entries without "enabled" as enabled, and keeps a given priority', () => {
    const locs = locationsFromCloudStorage({ aws_s3: { ...SPEC_EXAMPLE.aws_s3, enabled: false }, google_cloud: { bucket_name: 'b-1', priority: 5 } }, env());
    expect(locs).toHaveLength(1);
    expect(locs[0]).toMatchObject({ name: 'google-cloud', enabled: true, priority: 5 });
  });

  it('rejects unknown providers and non-object entries with a message naming the key', () => {
    expect(() => locationsFromCloudStorage({ dropbox: {} }, env())).toThrow(CloudConfigError);
    expect(() => locationsFromCloudStorage({ dropbox: {} }, env())).toThrow(/cloud_storage\.dropbox .*aws_s3, azure_blob, google_cloud/);
    expect(() => locationsFromCloudStorage({ aws_s3: 'yes' }, env())).toThrow(/cloud_storage\.aws_s3 must be an object/);
  });

  it('applies PLEXICHAT_AWS_* over the aws_s3 entry', () => {
    const [aws] = locationsFromCloudStorage(
      { aws_s3: SPEC_EXAMPLE.aws_s3 },
      env({ PLEXICHAT_AWS_ACCESS_KEY: 'AKIAENV', PLEXICHAT_AWS_SECRET_KEY: 'envsecret', PLEXICHAT_AWS_BUCKET: 'env-bucket', PLEXICHAT_AWS_REGION: 'eu-west-1' }),
    );
    expect(aws).toMatchObject({ access_key_id: 'AKIAENV', secret_access_key: 'envsecret', bucket_name: 'env-bucket', region: 'eu-west-1' });
  });

  it('never pairs an env key id with a configured secret: a lone PLEXICHAT_AWS_ACCESS_KEY is ignored', () => {
    const [aws] = locationsFromCloudStorage({ aws_s3: SPEC_EXAMPLE.aws_s3 }, env({ PLEXICHAT_AWS_ACCESS_KEY: 'AKIAENV' }));
    expect(aws).toMatchObject({ access_key_id: 'YOUR_ACCESS_KEY', secret_access_key: 'YOUR_SECRET_KEY' });
  });

  it('creates aws-s3 from PLEXICHAT_AWS_BUCKET alone, unless aws_s3 is configured (even disabled)', () => {
    const vars = env({ PLEXICHAT_AWS_BUCKET: 'env-bucket', PLEXICHAT_AWS_ACCESS_KEY: 'AKIAENV', PLEXICHAT_AWS_SECRET_KEY: 'envsecret' });
    const [aws, ...rest] = locationsFromCloudStorage({}, vars);
    expect(rest).toEqual([]);
    expect(aws).toMatchObject({ name: 'aws-s3', type: 's3', bucket_name: 'env-bucket', region: 'us-east-1', access_key_id: 'AKIAENV', priority: 20 });
    expect(cloudLocationIssues(aws!)).toEqual([]);
    expect(locationsFromCloudStorage({ aws_s3: { enabled: false } }, vars)).toEqual([]);
  });
});

describe('withAwsEnvDefaults', () => {
  const vars = env({ PLEXICHAT_AWS_ACCESS_KEY: 'AKIAENV', PLEXICHAT_AWS_SECRET_KEY: 'envsecret', PLEXICHAT_AWS_BUCKET: 'env-bucket', PLEXICHAT_AWS_REGION: 'eu-west-1' });

  it('fills what an s3 location lacks, including the schema default region "local"', () => {
    expect(withAwsEnvDefaults(s3(), vars)).toMatchObject({ access_key_id: 'AKIAENV', secret_access_key: 'envsecret', bucket_name: 'env-bucket', region: 'eu-west-1' });
  });

  it('keeps what the location configures, and leaves other types alone', () => {
    const own = s3({ access_key_id: 'AKIAOWN', secret_access_key: 'own', bucket_name: 'own-bucket', region: 'us-west-2' });
    expect(withAwsEnvDefaults(own, vars)).toEqual(own);
    const local: StorageLocationConfig = { name: 'disk', type: 'local', path: '/x', priority: 1, region: 'local', enabled: true };
    expect(withAwsEnvDefaults(local, vars)).toBe(local);
  });
});

describe('cloud location keys', () => {
  it('report each problem with the location, the key and what is allowed', () => {
    expect(cloudLocationIssues(s3())).toEqual([expect.stringMatching(/^storage location "my-s3" \(s3\): bucket_name /)]);
    expect(cloudLocationIssues(s3({ bucket_name: 'ok-bucket', storage_class: 'frozen' }))).toEqual([
      'storage location "my-s3" (s3): storage_class must be one of standard, standard_ia, glacier_ir, glacier, deep_archive',
    ]);
    expect(cloudLocationIssues(s3({ bucket_name: 'ok-bucket', access_key_id: 'AKIA' }))).toEqual([
      'storage location "my-s3" (s3): secret_access_key must be given together with access_key_id (both or neither)',
    ]);
    const azure: StorageLocationConfig = { name: 'az', type: 'azure', priority: 1, region: 'r', enabled: true, container_name: 'backups' };
    expect(cloudLocationIssues(azure)).toEqual([expect.stringMatching(/connection_string is required, unless account_name is given with account_key or sas_token/)]);
    const local: StorageLocationConfig = { name: 'disk', type: 'local', path: '/x', priority: 1, region: 'local', enabled: true };
    expect(cloudLocationIssues(local)).toEqual([]);
  });

  it('parse storage classes case-insensitively and apply defaults', () => {
    const keys = parseCloudKeys(s3LocationKeys, s3({ bucket_name: 'b-1', storage_class: 'DEEP_ARCHIVE' }));
    expect(keys).toMatchObject({ storage_class: 'deep_archive', force_path_style: false, prefix: '', list_version: 2, restore_days: 7, restore_tier: 'Standard' });
    expect(() => parseCloudKeys(s3LocationKeys, s3())).toThrow(/storage location "my-s3" \(s3\) is misconfigured: bucket_name/);
  });

  it('produce locations the main configuration accepts', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'px-cloudcfg-'));
    try {
      const file = path.join(dir, 'config.json');
      await writeFile(file, JSON.stringify({ storage_locations: locationsFromCloudStorage(SPEC_EXAMPLE, env()) }));
      const cfg = loadConfig(env({ PLEXICHAT_CONFIG: file }), dir);
      expect(cfg.storage_locations.map((l) => l.name)).toEqual(['aws-s3', 'azure-blob', 'google-cloud']);
      expect(cfg.storage_locations[0]).toMatchObject({ bucket_name: 'plexichat-backups', secret_access_key: 'YOUR_SECRET_KEY' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('maskSecrets', () => {
  it('replaces every credential with •••• and at most its last 4 characters', () => {
    const loc = {
      ...s3({ bucket_name: 'plexichat-backups' }),
      access_key_id: 'AKIAIOSFODNN7EXAMPLE',
      secret_access_key: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      session_token: 'short',
      account_key: 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==',
      connection_string: SPEC_EXAMPLE.azure_blob.connection_string,
      sas_token: 'sv=2024-01-01&sig=abcdefghijklmnop',
      client_password: 'hunter2hunter2',
    };
    const masked = maskSecrets(loc);
    expect(masked).toMatchObject({
      access_key_id: '••••MPLE',
      secret_access_key: '••••EKEY',
      session_token: '••••',
      account_key: '••••Gw==',
      // Structured values could leak through their tail: masked whole.
      connection_string: '••••',
      sas_token: '••••mnop',
      client_password: '••••ter2',
      bucket_name: 'plexichat-backups',
      name: 'my-s3',
      priority: 10,
    });
    expect(loc.secret_access_key).toBe('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY');
    expect(JSON.stringify(masked)).not.toMatch(/wJalr|Eby8v|AccountKey|hunter2h/);
  });

  it('shows a credentials_json path but masks inline key JSON', () => {
    expect(maskSecrets({ credentials_json: '/etc/plexichat/gcs.json' }).credentials_json).toBe('/etc/plexichat/gcs.json');
    const inline = JSON.stringify({ type: 'service_account', private_key: '-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n' });
    expect(maskSecrets({ credentials_json: inline }).credentials_json).toBe('••••');
  });
});
