import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { codingFor } from '../../server/config-erasure';

const dir = mkdtempSync(path.join(tmpdir(), 'pxcfg-ec-'));
const file = (doc: unknown) => {
  const f = path.join(dir, `${Math.random()}.json`);
  writeFileSync(f, JSON.stringify(doc));
  return f;
};
const locations = (n: number, disabled = 0) =>
  Array.from({ length: n }, (_, i) => ({ name: `l${i}`, type: 'local', path: path.join(dir, `l${i}`), enabled: i >= disabled }));

describe('erasure_coding configuration', () => {
  it('accepts k+m when k+m locations are enabled, and applies to the levels it names', () => {
    const c = loadConfig({ PLEXICHAT_CONFIG: file({ erasure_coding: { data_shards: 2, parity_shards: 1 }, storage_locations: locations(3) }) }, dir);
    expect(c.erasure_coding).toEqual({ data_shards: 2, parity_shards: 1 });
    expect(codingFor(c, 'standard')).toEqual({ k: 2, m: 1 });
    const only = loadConfig({ PLEXICHAT_CONFIG: file({ erasure_coding: { data_shards: 2, parity_shards: 1, security_levels: ['high'] }, storage_locations: locations(3) }) }, dir);
    expect(codingFor(only, 'high')).toEqual({ k: 2, m: 1 });
    expect(codingFor(only, 'standard')).toBeNull();
    expect(codingFor(loadConfig({ PLEXICHAT_CONFIG: file({ storage_locations: locations(3) }) }, dir), 'standard')).toBeNull();
  });

  it('refuses at start when fewer than k+m locations are enabled, naming both numbers and the way out', () => {
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ erasure_coding: { data_shards: 4, parity_shards: 2 }, storage_locations: locations(6, 1) }) }, dir)).toThrow(
      /erasure_coding is 4\+2 \(6 pieces per object, each on its own location\) but only 5 storage location\(s\) are enabled; add locations/,
    );
  });

  it('checks its numbers and keys like every other setting', () => {
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ erasure_coding: { data_shards: 0, parity_shards: 1 }, storage_locations: locations(3) }) }, dir)).toThrow(/erasure_coding.data_shards must be between 1 and 32/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ erasure_coding: { data_shards: 2, parity: 1 }, storage_locations: locations(3) }) }, dir)).toThrow(/erasure_coding/);
    expect(() => loadConfig({ PLEXICHAT_CONFIG: file({ erasure_coding: { data_shards: 2, parity_shards: 1, security_levels: ['top'] }, storage_locations: locations(3) }) }, dir)).toThrow(/security_levels/);
  });

  it('reads PLEXICHAT_ERASURE_CODING as "k+m", and "off" drops the file\'s setting', () => {
    const f = file({ erasure_coding: { data_shards: 2, parity_shards: 1 }, storage_locations: locations(6) });
    expect(loadConfig({ PLEXICHAT_CONFIG: f, PLEXICHAT_ERASURE_CODING: '4+2' }, dir).erasure_coding).toEqual({ data_shards: 4, parity_shards: 2 });
    expect(loadConfig({ PLEXICHAT_CONFIG: f, PLEXICHAT_ERASURE_CODING: 'off' }, dir).erasure_coding).toBeUndefined();
    expect(() => loadConfig({ PLEXICHAT_CONFIG: f, PLEXICHAT_ERASURE_CODING: 'two' }, dir)).toThrow(/erasure_coding .*environment variable PLEXICHAT_ERASURE_CODING/);
  });
});
