'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useCan } from '../session';
import { useTRPC } from '../trpc/client';
import { StatusBadge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { ErrorBox, Notice } from '../ui/feedback';
import { plural } from '../format';

/** "2 copies", "1 copy and 3 erasure-coded pieces": what a repair wrote, whole copies and coded pieces apart. */
function rewritten(list: { piece?: number }[]): string {
  const pieces = list.filter((x) => x.piece !== undefined).length;
  const copies = plural(list.length - pieces, 'copy', 'copies');
  return pieces ? `${copies} and ${plural(pieces, 'erasure-coded piece')}` : copies;
}

export function VerifyPanel({ backupId }: { backupId: string }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canRepair = useCan('backup.repair');
  const [readData, setReadData] = useState(true);
  const refreshMap = () => void qc.invalidateQueries({ queryKey: trpc.backup.shardMap.queryKey() });
  const verify = useMutation(trpc.backup.verify.mutationOptions({ onSuccess: refreshMap }));
  const repair = useMutation(trpc.backup.repair.mutationOptions({ onSuccess: refreshMap }));
  const r = verify.data;
  return (
    <Card title="Integrity">
      <p className="mb-3 text-sm text-slate-600">Check that every shard is present on its locations{readData ? ', then read and authenticate each replica' : ''}.</p>
      <label className="mb-3 flex items-center gap-2 text-sm text-slate-700">
        <input type="checkbox" checked={readData} onChange={(e) => setReadData(e.target.checked)} /> Read and check all data
      </label>
      <div className="flex flex-wrap gap-2">
        <Button onClick={() => verify.mutate({ backupId, readData })} busy={verify.isPending}>
          Verify
        </Button>
        {canRepair && (
          <Button variant="secondary" onClick={() => repair.mutate({ backupId })} busy={repair.isPending}>
            Repair
          </Button>
        )}
      </div>
      <div className="mt-3 space-y-2">
        <ErrorBox error={verify.error} title="Verify failed" />
        <ErrorBox error={repair.error} title="Repair failed" />
        {r && (
          <div data-testid="verify-result" className="space-y-1 text-sm">
            <div className="flex items-center gap-2">
              Result: <StatusBadge status={r.status} />
              <span className="text-slate-500">
                {r.shards_checked} shards, {r.replicas_checked} stored copies or pieces checked{r.read_data ? ' (data read)' : ''}
              </span>
            </div>
            {r.bad_shards.length > 0 && (
              <ul className="list-inside list-disc text-xs text-red-700">
                {r.bad_shards.slice(0, 20).map((x) => (
                  <li key={`${x.shard_id}@${x.location}`}>
                    {x.shard_id}{x.piece !== undefined ? ` piece ${x.piece}` : ''} at {x.location}: {x.problem} — {x.message}
                  </li>
                ))}
              </ul>
            )}
            {r.lost_shards.length > 0 && <Notice tone="amber">{r.lost_shards.length} shard(s) have no good copy left; affected files: {r.affected_files.slice(0, 10).join(', ') || 'unknown'}.</Notice>}
          </div>
        )}
        {repair.data && (
          <Notice tone={repair.data.unrepairable.length ? 'amber' : 'green'}>
            Repair: {rewritten(repair.data.repaired)} rewritten{repair.data.unrepairable.length ? `, ${plural(repair.data.unrepairable.length, 'shard')} could not be repaired` : ''}. Status now {repair.data.status}.
          </Notice>
        )}
      </div>
    </Card>
  );
}
