'use client';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { formatBytes, formatDuration } from '../format';
import { useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { ErrorBox, Notice } from '../ui/feedback';
import { Field, Input } from '../ui/form';

export function RestoreForm({ backupId }: { backupId: string }) {
  const trpc = useTRPC();
  const [target, setTarget] = useState('');
  const [include, setInclude] = useState('');
  const [overwrite, setOverwrite] = useState(false);
  const restore = useMutation(trpc.backup.recover.mutationOptions());
  const submit = (e: FormEvent) => {
    e.preventDefault();
    restore.mutate({ backupId, target, include: include.split(',').map((s) => s.trim()).filter(Boolean), overwrite });
  };
  const r = restore.data;
  return (
    <Card title="Restore">
      <form onSubmit={submit} className="space-y-3">
        <Field label="Target directory" hint="On the server. Existing files are not overwritten unless you allow it.">
          <Input value={target} onChange={(e) => setTarget(e.target.value)} placeholder="/srv/restore/2024-06-01" required />
        </Field>
        <Field label="Include patterns" hint="Optional, comma-separated globs, e.g. **/*.json, db/**">
          <Input value={include} onChange={(e) => setInclude(e.target.value)} placeholder="everything" />
        </Field>
        <label className="flex items-center gap-2 text-sm text-slate-700">
          <input type="checkbox" checked={overwrite} onChange={(e) => setOverwrite(e.target.checked)} /> Overwrite existing files
        </label>
        <Button type="submit" busy={restore.isPending}>
          Restore
        </Button>
        <ErrorBox error={restore.error} title="Restore failed" />
        {r && (
          <Notice>
            <span data-testid="restore-result">
              Restored {r.files_restored} files ({formatBytes(r.bytes_restored)}) to <span className="font-mono">{r.target}</span> in {formatDuration(r.duration_seconds)} ({r.throughput_mbps.toFixed(1)} MB/s).
            </span>
          </Notice>
        )}
      </form>
    </Card>
  );
}
