/**
 * Pure helpers behind the console's schedules, charts and storage pages: run times in the schedule's zone
 * (with its abbreviation) and the viewer's, round chart ticks, where a location keeps its data, and open
 * alerts over time.
 */
import { describe, expect, it } from 'vitest';
import { niceTicks, byteUnit } from '../../components/charts/ticks';
import { formatInZone, plural } from '../../components/format';
import { runTimes } from '../../components/schedules/zone-time';
import { locationKind } from '../../components/storage/location-label';
import { locationWhere } from '../../server/engine/storage/location-where';
import { openAlertSeries } from '../../server/monitoring/alert-history';
import { previewCron } from '../../server/trpc/routers/schedules/api';
import type { StorageLocationConfig } from '../../server/config';

describe('schedule run times', () => {
  it('shows 30 1 * * 1-5 in Europe/Berlin at 01:30 CET, and at the viewer time beside it', () => {
    const preview = previewCron('30 1 * * 1-5', 'Europe/Berlin', 2, new Date('2026-12-02T12:00:00Z'));
    if (!preview.ok) throw new Error(preview.error);
    expect(preview.runs[0]).toBe('2026-12-03T00:30:00.000Z');
    expect(runTimes(preview.runs[0]!, 'Europe/Berlin', 'America/New_York')).toEqual({ inZone: '2026-12-03 01:30 CET', local: '2026-12-02 19:30 EST' });
    // A viewer in the schedule's zone (or the same offset) sees one time.
    expect(runTimes(preview.runs[0]!, 'Europe/Berlin', 'Europe/Berlin').local).toBeNull();
    expect(runTimes(preview.runs[0]!, 'Europe/Berlin', 'Europe/Paris').local).toBeNull();
  });

  it('names summer time, and falls back to the offset where no abbreviation exists', () => {
    expect(formatInZone('2026-07-01T10:00:00Z', 'Europe/Berlin')).toBe('2026-07-01 12:00 CEST');
    expect(formatInZone('2026-07-01T10:00:00Z', 'UTC')).toBe('2026-07-01 10:00 UTC');
    expect(formatInZone('2026-07-01T10:00:00Z', 'Asia/Kolkata')).toBe('2026-07-01 15:30 GMT+5:30');
  });

  it('an unknown zone shows UTC instead of throwing', () => {
    expect(runTimes('2026-07-01T10:00:00Z', 'Mars/Olympus', 'UTC')).toEqual({ inZone: '2026-07-01 10:00 UTC', local: null });
  });
});

describe('chart ticks', () => {
  it('are round numbers from 0 to just above the maximum', () => {
    expect(niceTicks(7.3)).toEqual([0, 2, 4, 6, 8]);
    expect(niceTicks(183)).toEqual([0, 50, 100, 150, 200]);
    expect(niceTicks(0.37)).toEqual([0, 0.1, 0.2, 0.3, 0.4]);
    expect(niceTicks(0)).toEqual([0, 1]);
  });
  it('bytes are charted in the unit that keeps them under 1024', () => {
    expect(byteUnit(500)).toEqual({ unit: 'B', div: 1 });
    expect(byteUnit(3 * 1024 ** 3)).toEqual({ unit: 'GiB', div: 1024 ** 3 });
  });
});

describe('storage labels', () => {
  const loc = (l: Record<string, unknown>) => ({ name: 'x', priority: 10, region: 'local', enabled: true, ...l }) as StorageLocationConfig;
  it('where: the directory, or the bucket with its prefix', () => {
    expect(locationWhere(loc({ type: 'local', path: '/srv/backups' }))).toBe('/srv/backups');
    expect(locationWhere(loc({ type: 's3', bucket_name: 'px-backups', prefix: 'prod/' }))).toBe('s3://px-backups/prod/');
    expect(locationWhere(loc({ type: 'gcs', bucket_name: 'px-gcs' }))).toBe('gs://px-gcs');
    expect(locationWhere(loc({ type: 'azure', container_name: 'px' }))).toBe('azure://px');
  });
  it('a region equal to the type is not repeated ("local", not "local · local"); counts have proper plurals', () => {
    expect(locationKind({ type: 'local', region: 'local' })).toBe('local');
    expect(locationKind({ type: 's3', region: 'eu-west-1' })).toBe('s3 · eu-west-1');
    expect([plural(1, 'location'), plural(2, 'location'), plural(0, 'backup')]).toEqual(['1 location', '2 locations', '0 backups']);
  });
});

describe('open alerts over time', () => {
  it('counts an alert from its opening until its resolution, by severity', () => {
    const at = (h: number) => new Date(Date.UTC(2026, 11, 2, h));
    const series = openAlertSeries(
      [
        { severity: 'warning', opened_at: at(1), resolved_at: at(3) },
        { severity: 'critical', opened_at: at(2), resolved_at: null },
        { severity: 'warning', opened_at: at(2), resolved_at: null },
      ],
      at(0),
      at(4),
      4,
    );
    expect(series.map((p) => [p.warning, p.critical])).toEqual([
      [0, 0],
      [1, 0],
      [2, 1],
      [1, 1],
      [1, 1],
    ]);
    expect(series[0]!.at).toBe(at(0).toISOString());
  });
});
