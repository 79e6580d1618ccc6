'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { formatBytes, formatDate, formatDuration } from '../format';
import { useCan } from '../session';
import { useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { ErrorBox, Notice } from '../ui/feedback';
import { Select } from '../ui/form';

/**
 * Restore drills of one backup: everyone who sees the backup sees its drills; operators and admins
 * (drills.run) can run one — the whole backup or a sample — into a scratch directory the server deletes.
 */
export function DrillPanel({ backupId }: { backupId: string }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canRun = useCan('drills.run');
  const [percent, setPercent] = useState(100);
  const drills = useQuery(trpc.drills.list.queryOptions({ backupId, limit: 10 }));
  const run = useMutation(trpc.drills.run.mutationOptions({ onSuccess: () => void qc.invalidateQueries({ queryKey: trpc.drills.list.queryKey() }) }));
  const r = run.data;
  return (
    <Card title="Restore drills">
      <p className="mb-3 text-sm text-slate-600">A drill restores the backup into a private scratch directory on the server, compares every file with the manifest, records the restore time and deletes the copy.</p>
      {canRun && (
        <div className="mb-3 flex flex-wrap items-center gap-2">
          <div className="w-44">
            <Select aria-label="Drill sample" value={String(percent)} onChange={(e) => setPercent(Number(e.target.value))}>
              <option value="100">Whole backup</option>
              <option value="25">25 % of the files</option>
              <option value="10">10 % of the files</option>
              <option value="1">1 % of the files</option>
            </Select>
          </div>
          <Button onClick={() => run.mutate({ backupId, samplePercent: percent })} busy={run.isPending}>
            Run drill
          </Button>
        </div>
      )}
      <ErrorBox error={run.error} title="The drill could not run" />
      {r && (
        <Notice tone={r.status === 'passed' ? 'green' : r.status === 'skipped' ? 'blue' : 'amber'}>
          {r.status === 'skipped' ? r.error : <>Drill {r.status}: {r.files_checked} file(s), {formatBytes(r.bytes_checked)} checked{r.method ? ` (${r.method})` : ''}; RTO {formatDuration(r.rto_seconds)}
          {r.sample_percent < 100 ? ` (extrapolated from ${r.sample_percent} %)` : ''}.{r.error ? ` ${r.error}` : ''}
          {r.note ? ` ${r.note}` : ''}</>}
        </Notice>
      )}
      <ErrorBox error={drills.error} title="Could not load the drills" />
      {drills.data && drills.data.length > 0 && (
        <ul className="mt-3 space-y-1 text-sm" data-testid="backup-drills">
          {drills.data.map((d) => (
            <li key={d.drill_id} className="flex flex-wrap items-center gap-2">
              <Badge tone={d.status === 'passed' ? 'green' : d.status === 'failed' ? 'red' : 'slate'}>{d.status}</Badge>
              <span className="text-slate-600">{formatDate(d.started_at)}</span>
              <span className="text-slate-500">
                RTO {d.rto_seconds === null ? '—' : formatDuration(d.rto_seconds)} · {d.files_checked} file(s) · {d.sample_percent} % · by {d.actor}
              </span>
              {d.error && <span className="text-xs text-red-700">{d.error}</span>}
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}
