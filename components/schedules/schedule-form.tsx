'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { type RouterOutputs, useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { ErrorBox } from '../ui/feedback';
import { Field, Input, Select, TextArea } from '../ui/form';
import { pathRootsHint, usePathPolicy } from '../backups/path-roots';
import { CronPreview } from './cron-preview';

type Schedule = RouterOutputs['schedules']['list'][number];
const TYPES = ['full', 'incremental', 'differential', 'snapshot', 'continuous', 'drill'] as const;
const LEVELS = ['basic', 'standard', 'high', 'maximum', 'government'] as const;
const split = (s: string) => s.split(',').map((x) => x.trim()).filter(Boolean);
/** Paths, one per line as in New backup (a path may contain a comma). */
const lines = (s: string) => s.split('\n').map((x) => x.trim()).filter(Boolean);

/** Create a schedule, or edit one (`existing`). */
export function ScheduleForm({ existing, onDone }: { existing?: Schedule; onDone: () => void }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [name, setName] = useState(existing?.name ?? '');
  const [cron, setCron] = useState(existing?.cron ?? '0 2 * * *');
  const [timezone, setTimezone] = useState(existing?.timezone ?? 'UTC');
  const [paths, setPaths] = useState(existing?.paths.join('\n') ?? '');
  const [backupType, setType] = useState<(typeof TYPES)[number]>((existing?.backup_type as (typeof TYPES)[number] | undefined) ?? 'full');
  const [tags, setTags] = useState(existing?.tags.join(', ') ?? '');
  const [retention, setRetention] = useState(existing?.retention_days ? String(existing.retention_days) : '');
  const [priority, setPriority] = useState(String(existing?.priority ?? 5));
  const [delay, setDelay] = useState(String(existing?.delay_seconds ?? 60));
  const [level, setLevel] = useState<(typeof LEVELS)[number] | ''>((existing?.security_level as (typeof LEVELS)[number] | null) ?? '');
  const continuous = backupType === 'continuous';
  const pathPolicy = usePathPolicy();
  const done = () => {
    void qc.invalidateQueries({ queryKey: trpc.schedules.list.queryKey() });
    onDone();
  };
  const create = useMutation(trpc.schedules.create.mutationOptions({ onSuccess: done }));
  const update = useMutation(trpc.schedules.update.mutationOptions({ onSuccess: done }));
  const submit = () => {
    const schedule = { name: name.trim(), cron: cron.trim(), timezone: timezone.trim() || 'UTC', paths: lines(paths), backupType, tags: split(tags), retentionDays: retention ? Number(retention) : null, priority: Number(priority) || 5, delaySeconds: continuous ? Number(delay) || 60 : null, securityLevel: level || null };
    if (existing) update.mutate({ name: existing.name, schedule });
    else create.mutate(schedule);
  };
  return (
    <Card title={existing ? `Edit ${existing.name}` : 'New schedule'}>
      <form
        className="grid grid-cols-1 gap-3 md:grid-cols-2"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <Field label="Name">
          <Input name="name" value={name} onChange={(e) => setName(e.target.value)} required placeholder="nightly-db" />
        </Field>
        <Field label="Paths" hint={backupType === 'drill' ? 'a restore drill of the newest completed backup of these sources (one per line)' : pathRootsHint(pathPolicy, 'backup', 'Directories or files on the server, one per line; each must exist.')}>
          <TextArea name="paths" rows={Math.min(6, Math.max(2, paths.split('\n').length))} value={paths} onChange={(e) => setPaths(e.target.value)} required placeholder="/srv/data" />
        </Field>
        <Field label="Cron" hint={continuous ? 'also backs up on this schedule, as a safety net for changes a watcher cannot see' : 'minute hour day-of-month month day-of-week'}>
          <Input name="cron" value={cron} onChange={(e) => setCron(e.target.value)} required className="font-mono" />
        </Field>
        <Field label="Time zone" hint="an IANA name such as Europe/Berlin or America/New_York; runs follow its daylight-saving changes">
          <Input name="timezone" value={timezone} onChange={(e) => setTimezone(e.target.value)} placeholder="UTC" />
        </Field>
        <Field label="Type">
          <Select value={backupType} onChange={(e) => setType(e.target.value as (typeof TYPES)[number])}>
            {TYPES.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </Select>
        </Field>
        {continuous && (
          <Field label="Delay after changes (s)" hint="a worker watches the paths and backs up this long after the last change">
            <Input name="delay" type="number" min={1} max={86400} value={delay} onChange={(e) => setDelay(e.target.value)} />
          </Field>
        )}
        <Field label="Security level" hint="empty = the configured default">
          <Select value={level} onChange={(e) => setLevel(e.target.value as typeof level)}>
            <option value="">default</option>
            {LEVELS.map((l) => (
              <option key={l}>{l}</option>
            ))}
          </Select>
        </Field>
        <Field label="Retention (days)" hint="empty = the default">
          <Input name="retention" type="number" min={1} value={retention} onChange={(e) => setRetention(e.target.value)} />
        </Field>
        <Field label="Priority" hint="1–10: when max_concurrent_backups is reached, higher-priority backups take a free slot first">
          <Input name="priority" type="number" min={1} max={10} value={priority} onChange={(e) => setPriority(e.target.value)} required />
        </Field>
        <Field label="Tags" hint="the schedule's name is always added">
          <Input name="tags" value={tags} onChange={(e) => setTags(e.target.value)} placeholder="db, nightly" />
        </Field>
        <div className="md:col-span-2">
          <CronPreview cron={cron} timezone={timezone.trim() || 'UTC'} />
        </div>
        <div className="flex gap-2 md:col-span-2">
          <Button type="submit" busy={create.isPending || update.isPending}>
            {existing ? 'Save' : 'Create schedule'}
          </Button>
          <Button variant="secondary" onClick={onDone}>
            Cancel
          </Button>
        </div>
        <div className="md:col-span-2">
          <ErrorBox error={create.error ?? update.error} title="Could not save the schedule" />
        </div>
      </form>
    </Card>
  );
}
