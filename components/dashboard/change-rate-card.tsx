'use client';
import { useQuery } from '@tanstack/react-query';
import { ChangeRateChart, type ChangePoint } from '../charts/change-rate-chart';
import { useTRPC } from '../trpc/client';
import { Card } from '../ui/card';

interface Compared {
  previous_files: number;
  new_files: number;
  changed_files: number;
}

/** Share of files changed per backup and source (ransomware signals), from the last 200 completed backups. */
export function ChangeRateCard() {
  const trpc = useTRPC();
  const list = useQuery(trpc.backup.list.queryOptions({ status: 'completed', limit: 200, offset: 0 }, { refetchInterval: 60_000 }));
  const points: ChangePoint[] = [];
  for (const b of list.data?.items ?? []) {
    const s = b.change_summary as unknown as Compared | null;
    if (!s || !b.completed_at || s.previous_files === 0) continue;
    points.push({ at: b.completed_at, source: b.sources.join(', '), percent: ((s.new_files + s.changed_files) / s.previous_files) * 100, suspicious: b.suspicious });
  }
  return (
    <Card title="Files changed per backup, by source">
      {list.isPending ? null : points.length === 0 ? (
        <p className="py-10 text-center text-sm text-slate-500" data-testid="no-change-rate">
          No backup compared with an earlier one yet: the second backup of a source shows how much of it changed.
        </p>
      ) : (
        <ChangeRateChart points={points} />
      )}
    </Card>
  );
}
