'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useEffect, useState, type FormEvent } from 'react';
import { formatBytes, formatDuration } from '../format';
import { useTRPC } from '../trpc/client';
import { StatusBadge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { ErrorBox, Notice } from '../ui/feedback';
import { Field, Input, TextArea } from '../ui/form';
import { pathRootsHint, usePathPolicy } from './path-roots';
import { Metric, ProgressBar } from './progress-view';

/**
 * Restore into a directory on the server: everything, or files by pattern and modification date; live
 * progress. A MAXIMUM backup also takes k of the key holders' quorum shares, one per line: they go to the
 * server for this restore only, and the field is cleared once they are sent.
 */
export function RestoreForm({ backupId, needsQuorum = false }: { backupId: string; needsQuorum?: boolean }) {
  const trpc = useTRPC();
  const [target, setTarget] = useState('');
  const [include, setInclude] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const [allowPartial, setAllowPartial] = useState(false);
  const [shares, setShares] = useState('');
  const pathPolicy = usePathPolicy();
  // Only admins may overwrite during a console restore: the box is not shown to others, and never sent as true.
  const mayOverwrite = pathPolicy?.mayOverwrite === true;
  const qc = useQueryClient();
  // The backup page's list of restores shows the new job at once.
  const start = useMutation(trpc.backup.recover.mutationOptions({ onSuccess: () => void qc.invalidateQueries({ queryKey: trpc.restores.list.queryKey() }) }));
  const restoreId = start.data?.restore_id;
  const { data: job, error: pollError } = useQuery(
    trpc.backup.restoreProgress.queryOptions(
      { restoreId: restoreId ?? '' },
      { enabled: Boolean(restoreId), staleTime: 0, refetchInterval: (q) => (q.state.data && (q.state.data.status === 'completed' || q.state.data.status === 'failed') ? false : 1000) },
    ),
  );
  const running = start.isPending || job?.status === 'running' || job?.status === 'queued';
  // The list of this backup's restores follows at once when the job ends (it polls only every 2 s).
  const finished = job?.status === 'completed' || job?.status === 'failed';
  useEffect(() => {
    if (finished) void qc.invalidateQueries({ queryKey: trpc.restores.list.queryKey() });
  }, [finished, qc, trpc]);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const given = needsQuorum ? shares.split('\n').map((s) => s.trim()).filter(Boolean) : [];
    start.mutate({ backupId, target, include: include.split(',').map((s) => s.trim()).filter(Boolean), from: from || undefined, to: to || undefined, overwrite: mayOverwrite && overwrite, allowPartial, shares: given });
    setShares('');
  };
  const r = job?.result;
  return (
    <Card title="Restore">
      <form onSubmit={submit} className="space-y-3">
        <Field label="Target directory" hint={pathRootsHint(pathPolicy, 'restore', mayOverwrite ? 'An absolute path on the server (starting with /). Existing files are not overwritten unless you allow it.' : 'An absolute path on the server (starting with /): an empty or new directory (existing files are never overwritten).')}>
          <Input value={target} onChange={(e) => setTarget(e.target.value)} placeholder="/srv/restore/2024-06-01" required />
        </Field>
        <Field label="Include patterns" hint="Optional, comma-separated globs, e.g. **/*.json, db/**">
          <Input value={include} onChange={(e) => setInclude(e.target.value)} placeholder="everything" />
        </Field>
        <div className="grid grid-cols-2 gap-3">
          <Field label="Modified from" hint="Optional (UTC day)">
            <Input type="date" value={from} onChange={(e) => setFrom(e.target.value)} />
          </Field>
          <Field label="Modified to" hint="Optional, inclusive">
            <Input type="date" value={to} onChange={(e) => setTo(e.target.value)} />
          </Field>
        </div>
        {needsQuorum && (
          <Field label="Key holders' shares" hint="This backup is MAXIMUM: paste k of the quorum's shares, one per line (each starts with plexichat-share-v1:). They are used for this restore only, never stored.">
            <TextArea value={shares} onChange={(e) => setShares(e.target.value)} rows={4} spellCheck={false} autoComplete="off" className="text-xs" required />
          </Field>
        )}
        {mayOverwrite && (
          <label className="flex items-center gap-2 text-sm text-slate-700">
            <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} /> Overwrite existing files
          </label>
        )}
        <label className="flex items-center gap-2 text-sm text-slate-700">
          <input type="checkbox" checked={allowPartial} onChange={(e) => setAllowPartial(e.target.checked)} data-testid="restore-allow-partial" /> Allow partial restore (restore every
          readable file if shards are lost; refused when under 80% of the needed shards are readable)
        </label>
        <Button type="submit" busy={running}>
          Restore
        </Button>
        <ErrorBox error={start.error ?? pollError} title="Restore failed" />
        {job && (
          <div className="space-y-2" data-testid="restore-progress" data-status={job.status}>
            <div className="flex items-center justify-between text-sm">
              <StatusBadge status={job.status} />
              <span className="font-semibold tabular-nums">{job.progress.percent.toFixed(1)}%</span>
            </div>
            <ProgressBar percent={job.progress.percent} status={job.status} />
            <dl className="grid grid-cols-2 gap-3 text-sm sm:grid-cols-4">
              <Metric label="Bytes" value={`${formatBytes(job.progress.bytes_done)} / ${formatBytes(job.progress.bytes_total)}`} />
              <Metric label="Files" value={`${job.progress.files_done} / ${job.progress.files_total}`} />
              <Metric label="Speed" value={`${job.progress.throughput_mbps.toFixed(1)} MB/s`} />
              <Metric label="ETA" value={job.status === 'completed' ? 'done' : job.status !== 'running' || job.progress.eta_seconds === null ? '—' : formatDuration(job.progress.eta_seconds)} />
            </dl>
            {job.error && <ErrorBox error={new Error(job.error)} title="Restore failed" />}
            <p className="text-xs text-slate-500">
              Restore <span className="font-mono">{job.restore_id}</span>
              {job.status === 'queued' ? ' is waiting for a console or worker to start it' : ''}; it is also listed on the{' '}
              <Link href="/restores" className="text-indigo-700 hover:underline">
                Restores
              </Link>{' '}
              page, on every console.
            </p>
          </div>
        )}
        {r && (
          <Notice>
            <span data-testid="restore-result">
              Restored {r.files_restored} {r.files_restored === 1 ? 'file' : 'files'} ({formatBytes(r.bytes_restored)}) to <span className="font-mono">{r.target}</span> in {formatDuration(r.duration_seconds)} ({r.throughput_mbps.toFixed(1)} MB/s).
            </span>
            {r.lost && r.lost.length > 0 && (
              <span className="block" data-testid="restore-lost">
                {r.lost.length} file(s) lost ({Math.round((r.readable_fraction ?? 0) * 1000) / 10}% of the needed shards readable):{' '}
                <span className="font-mono">{r.lost.slice(0, 50).map((f) => f.path).join(', ')}{r.lost.length > 50 ? ', …' : ''}</span>
              </span>
            )}
          </Notice>
        )}
      </form>
    </Card>
  );
}
