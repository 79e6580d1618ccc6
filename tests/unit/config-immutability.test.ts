import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, type StorageLocationConfig } from '../../server/config';
import { cloudLocationIssues } from '../../server/config-cloud';
import { immutabilityOf, retainUntil } from '../../server/config-immutability';
import { validateLocation } from '../../server/engine/storage/location-store';

const s3 = (extra: Record<string, unknown> = {}): StorageLocationConfig => ({ name: 'vault', type: 's3', priority: 10, region: 'us-east-1', enabled: true, bucket_name: 'vault-bucket', ...extra });
const local = (extra: Record<string, unknown> = {}): StorageLocationConfig => ({ name: 'disk', type: 'local', path: '/srv/px', priority: 10, region: 'local', enabled: true, ...extra });

describe('immutability settings', () => {
  it('accept governance and compliance with min_days, margin_days defaulting to 1', () => {
    expect(cloudLocationIssues(s3({ immutability: { mode: 'compliance', min_days: 30 } }))).toEqual([]);
    expect(immutabilityOf(s3({ immutability: { mode: 'governance', min_days: 7 } }))).toEqual({ mode: 'governance', min_days: 7, margin_days: 1 });
    expect(immutabilityOf(s3())).toBeNull();
  });

  it('name the location, the key and what is allowed', () => {
    expect(cloudLocationIssues(s3({ immutability: { mode: 'strict', min_days: 0 } }))).toEqual([
      'storage location "vault" (s3): immutability.mode must be "governance" or "compliance"',
      'storage location "vault" (s3): immutability.min_days must be at least 1 day',
    ]);
    expect(cloudLocationIssues(s3({ immutability: { mode: 'governance', min_days: 7, days: 3 } }))).toEqual([expect.stringMatching(/^storage location "vault" \(s3\): immutability .*"days"/)]);
    expect(cloudLocationIssues(local({ immutability: { mode: 'governance', min_days: 7 } }))).toEqual([
      'storage location "disk" (local): immutability is only available on s3, gcs and azure locations; for a local location use "append_only": true',
    ]);
    expect(cloudLocationIssues(s3({ append_only: true }))).toEqual(['storage location "vault" (s3): append_only is for local locations; on s3 use immutability (the store\'s own lock)']);
    expect(cloudLocationIssues(local({ append_only: 'yes' }))).toEqual(['storage location "disk" (local): append_only must be true or false']);
  });

  it('are checked for console-managed locations too', () => {
    expect(() => validateLocation({ ...s3(), immutability: { mode: 'compliance' } })).toThrow(/Invalid storage location: storage location "vault" \(s3\): immutability.min_days must be a whole number of days/);
    expect(validateLocation({ ...local(), append_only: true })).toMatchObject({ append_only: true });
  });

  it('are known keys of the config file, and a bad value stops loading', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'px-immcfg-'));
    try {
      const file = path.join(dir, 'config.json');
      await writeFile(file, JSON.stringify({ storage_locations: [s3({ immutability: { mode: 'governance', min_days: 3 } }), local({ path: path.join(dir, 'repo'), append_only: true })] }));
      const cfg = loadConfig({ PLEXICHAT_CONFIG: file }, dir);
      expect(cfg.storage_locations.map((l) => [l.name, l.immutability ?? l.append_only])).toEqual([
        ['vault', { mode: 'governance', min_days: 3 }],
        ['disk', true],
      ]);
      await writeFile(file, JSON.stringify({ storage_locations: [s3({ immutability: { mode: 'governance', min_days: -1 } })] }));
      expect(() => loadConfig({ PLEXICHAT_CONFIG: file }, dir)).toThrow(/immutability.min_days must be at least 1 day/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('retainUntil', () => {
  const imm = { mode: 'governance' as const, min_days: 7, margin_days: 2 };
  const now = new Date('2026-12-01T10:00:00.250Z');
  it('is the expiry + margin_days, at least now + min_days, on a whole second', () => {
    expect(retainUntil(imm, now, new Date('2026-12-31T10:00:00Z')).toISOString()).toBe('2027-01-02T10:00:00.000Z');
    expect(retainUntil(imm, now, new Date('2026-12-02T10:00:00Z')).toISOString()).toBe('2026-12-08T10:00:01.000Z');
    expect(retainUntil(imm, now, null).toISOString()).toBe('2026-12-08T10:00:01.000Z');
  });
});
