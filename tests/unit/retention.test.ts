import { describe, expect, it } from 'vitest';
import { planPrune, type PruneCandidate } from '../../server/engine/maintenance/retention';

const b = (id: string, at: string, extra: Partial<PruneCandidate> = {}): PruneCandidate => ({ backup_id: id, group: 'g', completed_at: at, expires_at: null, status: 'completed', ...extra });
const now = new Date('2024-03-31T12:00:00Z');

describe('retention plans', () => {
  const list = [
    b('mar31b', '2024-03-31T10:00:00Z'),
    b('mar31a', '2024-03-31T02:00:00Z'),
    b('mar30', '2024-03-30T02:00:00Z'),
    b('mar24', '2024-03-24T02:00:00Z'),
    b('feb10', '2024-02-10T02:00:00Z'),
    b('jan05', '2024-01-05T02:00:00Z'),
  ];

  it('keep-last keeps the newest N of each group', () => {
    const p = planPrune(list, { keepLast: 2 }, now);
    expect(p.keep.map((k) => k.backup_id)).toEqual(['mar31b', 'mar31a']);
    expect(p.remove.map((r) => r.backup_id)).toEqual(['mar30', 'mar24', 'feb10', 'jan05']);
    expect(p.remove[0]!.reason).toBe('matched no keep rule');
  });

  it('keep-daily/weekly/monthly keep the newest of each period, and say why', () => {
    const p = planPrune(list, { keepDaily: 2, keepMonthly: 3 }, now);
    const kept = Object.fromEntries(p.keep.map((k) => [k.backup_id, k.reasons]));
    expect(Object.keys(kept).sort()).toEqual(['feb10', 'jan05', 'mar30', 'mar31b']);
    expect(kept.mar31b).toEqual(['keep-daily 2024-03-31', 'keep-monthly 2024-03']);
    expect(kept.jan05).toEqual(['keep-monthly 2024-01']);
    const weekly = planPrune(list, { keepWeekly: 2 }, now);
    expect(weekly.keep.map((k) => k.backup_id)).toEqual(['mar31b', 'mar24']);
  });

  it('without rules removes expired backups; never touches running ones; removes failed ones', () => {
    const p = planPrune(
      [
        b('old', '2024-01-01T00:00:00Z', { expires_at: '2024-03-01T00:00:00Z' }),
        b('fresh', '2024-03-30T00:00:00Z', { expires_at: '2024-06-01T00:00:00Z' }),
        b('run', '2024-03-31T00:00:00Z', { status: 'running' }),
        b('bad', '2024-03-31T00:00:00Z', { status: 'failed' }),
      ],
      {},
      now,
    );
    expect(p.remove.map((r) => r.backup_id).sort()).toEqual(['bad', 'old']);
    expect(p.keep.map((k) => k.backup_id)).toEqual(['fresh']);
  });

  it('groups by source', () => {
    const p = planPrune([b('a1', '2024-03-31T00:00:00Z', { group: 'a' }), b('b1', '2024-03-30T00:00:00Z', { group: 'b' }), b('a0', '2024-03-29T00:00:00Z', { group: 'a' })], { keepLast: 1 }, now);
    expect(p.keep.map((k) => k.backup_id).sort()).toEqual(['a1', 'b1']);
  });
});
