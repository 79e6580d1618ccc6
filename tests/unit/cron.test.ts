import { describe, expect, it } from 'vitest';
import { dueSince, nextRuns, parseCron } from '../../server/jobs/cron';

describe('cron expressions', () => {
  it('accepts 5 fields with ranges, lists, steps and names', () => {
    for (const e of ['* * * * *', '*/15 0-6 * * 1-5', '0 3 1,15 * *', '30 2 * jan-mar sun', '0 0 * * 7']) expect(() => parseCron(e)).not.toThrow();
  });

  it('names the field that is wrong', () => {
    expect(() => parseCron('61 * * * *')).toThrow(/minute 61 is out of range \(allowed 0–59\)/);
    expect(() => parseCron('0 24 * * *')).toThrow(/hour 24 is out of range/);
    expect(() => parseCron('0 0 32 * *')).toThrow(/day-of-month 32/);
    expect(() => parseCron('0 0 * 13 *')).toThrow(/month 13/);
    expect(() => parseCron('0 0 * * 8')).toThrow(/day-of-week 8/);
    expect(() => parseCron('*/0 * * * *')).toThrow(/step "\/0" of the minute field/);
    expect(() => parseCron('a * * * *')).toThrow(/"a" is not a valid minute/);
    expect(() => parseCron('* * * *')).toThrow(/has 4 field\(s\); it needs 5/);
    expect(() => parseCron('* * * * * *')).toThrow(/has 6 field\(s\)/);
    expect(() => parseCron('* * * * *', 'Nowhere/City')).toThrow(/Unknown time zone "Nowhere\/City"/);
  });

  it('computes the next runs in the schedule time zone', () => {
    const from = new Date('2026-03-28T12:00:00Z');
    expect(nextRuns('0 3 * * *', 'Europe/Berlin', 3, from).map((d) => d.toISOString())).toEqual([
      '2026-03-29T01:00:00.000Z', // CET → CEST that night
      '2026-03-30T01:00:00.000Z',
      '2026-03-31T01:00:00.000Z',
    ]);
    expect(nextRuns('*/5 * * * *', 'UTC', 2, from).map((d) => d.toISOString())).toEqual(['2026-03-28T12:05:00.000Z', '2026-03-28T12:10:00.000Z']);
  });

  it('folds missed runs into the latest one', () => {
    const after = new Date('2026-01-01T00:00:00Z');
    expect(dueSince('*/5 * * * *', 'UTC', after, new Date('2026-01-01T00:04:59Z'))).toBeNull();
    expect(dueSince('*/5 * * * *', 'UTC', after, new Date('2026-01-01T00:05:00Z'))).toEqual({ latest: new Date('2026-01-01T00:05:00Z'), skipped: 0 });
    expect(dueSince('*/5 * * * *', 'UTC', after, new Date('2026-01-01T00:21:00Z'))).toEqual({ latest: new Date('2026-01-01T00:20:00Z'), skipped: 3 });
  });
});
