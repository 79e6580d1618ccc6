'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useState } from 'react';
import { timeAgo } from '../format';
import { useCan } from '../session';
import { type RouterOutputs, useTRPC } from '../trpc/client';
import { Badge, StatusBadge } from '../ui/badge';
import { Button } from '../ui/button';
import { useConfirm } from '../ui/confirm-dialog';
import { Card, PageHeader } from '../ui/card';
import { EmptyState, ErrorBox, Loading, Notice } from '../ui/feedback';
import { RunTime } from './run-time';
import { ScheduleForm } from './schedule-form';

type Schedule = RouterOutputs['schedules']['list'][number];

export function ScheduleList() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const canManage = useCan('schedules.create');
  const [editing, setEditing] = useState<Schedule | 'new' | null>(null);
  const { data, error, isPending } = useQuery(trpc.schedules.list.queryOptions(undefined, { refetchInterval: 5_000 }));
  const refresh = () => void qc.invalidateQueries({ queryKey: trpc.schedules.list.queryKey() });
  const pause = useMutation(trpc.schedules.pause.mutationOptions({ onSuccess: refresh }));
  const resume = useMutation(trpc.schedules.resume.mutationOptions({ onSuccess: refresh }));
  const runNow = useMutation(trpc.schedules.runNow.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.schedules.remove.mutationOptions({ onSuccess: refresh }));
  const [dialog, confirm] = useConfirm();
  return (
    <div className="space-y-4">
      {dialog}
      <PageHeader title="Schedules" subtitle="Backups that run by themselves (cron, in a time zone)" actions={canManage && !editing ? <Button onClick={() => setEditing('new')}>New schedule</Button> : null} />
      {editing && <ScheduleForm existing={editing === 'new' ? undefined : editing} onDone={() => setEditing(null)} />}
      {runNow.data && <Notice tone="blue">Run of {runNow.data.name} queued; a worker starts it within seconds.</Notice>}
      <ErrorBox error={error ?? pause.error ?? resume.error ?? runNow.error ?? remove.error} title="Schedules" />
      {isPending ? (
        <Loading />
      ) : data && data.length === 0 ? (
        <EmptyState title="No schedules yet">{canManage ? 'Create one to back up a directory every night, hour or week.' : 'An operator or admin can create schedules.'}</EmptyState>
      ) : data ? (
        <Card>
          <table className="w-full text-left text-sm" data-testid="schedule-table">
            <thead className="text-xs uppercase text-slate-500">
              <tr>
                <th className="py-2">Name</th>
                <th>When</th>
                <th>What</th>
                <th>Next run</th>
                <th>Last run</th>
                {canManage && <th />}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {data.map((s) => (
                <tr key={s.id}>
                  <td className="py-2 font-medium">
                    <span>{s.name}</span> {s.paused && <Badge tone="amber">paused</Badge>}
                  </td>
                  <td>
                    <code>{s.cron}</code> <span className="text-xs text-slate-500">{s.timezone}</span>
                  </td>
                  <td>
                    <span>{s.backup_type}</span>
                    {s.priority !== 5 && <span className="ml-1 text-xs text-slate-500">priority {s.priority}</span>}
                    {s.paths.map((p) => (
                      <span key={p} className="block break-all font-mono text-xs text-slate-700">
                        {p}
                      </span>
                    ))}
                    {s.backup_type === 'continuous' && (
                      <span className="block text-xs text-slate-500">
                        {s.delay_seconds} s after changes · {s.watcher ? `watched by ${s.watcher.worker}` : s.paused ? 'not watched while paused' : 'waiting for a worker to watch'}
                      </span>
                    )}
                  </td>
                  <td>{s.next_run ? <RunTime iso={s.next_run} timezone={s.timezone} /> : '—'}</td>
                  <td>
                    {s.last_run ? (
                      <span className="flex flex-wrap items-center gap-1">
                        <StatusBadge status={s.last_run.status} />
                        {s.last_run.late && <Badge tone="amber">late</Badge>}
                        {s.last_run.backup_id ? <Link className="text-indigo-700 hover:underline" href={`/backups/${s.last_run.backup_id}`}>{timeAgo(s.last_run.finished_at ?? s.last_run.due_at)}</Link> : <span>{timeAgo(s.last_run.due_at)}</span>}
                        {s.last_run.error && <span className="text-xs text-red-700">{s.last_run.error}</span>}
                      </span>
                    ) : (
                      'never'
                    )}
                  </td>
                  {canManage && (
                    <td className="space-x-1 whitespace-nowrap text-right">
                      <Button variant="secondary" onClick={() => runNow.mutate({ name: s.name })} busy={runNow.isPending && runNow.variables?.name === s.name}>Run now</Button>
                      {s.paused ? <Button variant="secondary" onClick={() => resume.mutate({ name: s.name })}>Resume</Button> : <Button variant="secondary" onClick={() => pause.mutate({ name: s.name })}>Pause</Button>}
                      <Button variant="ghost" onClick={() => setEditing(s)}>Edit</Button>
                      <Button variant="danger" onClick={async () => (await confirm({ title: `Remove schedule ${s.name}?`, body: 'It stops running; the backups it made stay.', confirmLabel: 'Remove schedule', tone: 'danger' })) && remove.mutate({ name: s.name })}>Remove</Button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </Card>
      ) : null}
    </div>
  );
}
