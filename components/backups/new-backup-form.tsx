'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { useState, type FormEvent } from 'react';
import { type RouterInputs, useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { Card, PageHeader } from '../ui/card';
import { ErrorBox, Notice } from '../ui/feedback';
import { Field, Input, Select, TextArea } from '../ui/form';
import { pathRootsHint, usePathPolicy } from './path-roots';
import { backupTitle, ProgressView, useBackupProgress } from './progress-view';

type CreateInput = RouterInputs['backup']['create'];
type Kind = 'paths' | 'text' | 'upload';

/** Streams the file as the request body to the upload route (never read whole into memory here). */
async function uploadFile(file: File, opts: Record<string, string | undefined>): Promise<string> {
  const q = new URLSearchParams({ name: file.name });
  for (const [k, v] of Object.entries(opts)) if (v) q.set(k, v);
  const res = await fetch(`/api/backups/upload?${q}`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: file });
  const json = (await res.json().catch(() => null)) as { backup_id?: string; error?: { message?: string } } | null;
  if (!res.ok || !json?.backup_id) throw new Error(json?.error?.message ?? `The upload failed (HTTP ${res.status}).`);
  return json.backup_id;
}

export function NewBackupForm() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const [kind, setKind] = useState<Kind>('paths');
  const [paths, setPaths] = useState('');
  const [text, setText] = useState('');
  const [textName, setTextName] = useState('payload.txt');
  const [file, setFile] = useState<File | null>(null);
  const [backupType, setBackupType] = useState<NonNullable<CreateInput['backupType']>>('full');
  const [level, setLevel] = useState<'basic' | 'standard' | 'high' | 'maximum' | 'government'>('standard');
  const [tags, setTags] = useState('');
  const [retention, setRetention] = useState('');
  const [priority, setPriority] = useState('5');
  const [localError, setLocalError] = useState<string | null>(null);
  const pathPolicy = usePathPolicy();
  const create = useMutation(trpc.backup.create.mutationOptions({ onSuccess: () => void qc.invalidateQueries({ queryKey: trpc.backup.list.queryKey() }) }));
  const upload = useMutation({ mutationFn: (f: File) => uploadFile(f, { backupType, securityLevel: level, tags, retentionDays: retention.trim(), priority }), onSuccess: () => void qc.invalidateQueries({ queryKey: trpc.backup.list.queryKey() }) });
  const started = create.data?.backup_id ?? upload.data;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setLocalError(null);
    let source: CreateInput['source'];
    if (kind === 'paths') source = { kind, paths: paths.split('\n').map((p) => p.trim()).filter(Boolean) };
    else if (kind === 'text') source = { kind, name: textName.trim() || 'payload.txt', text };
    else {
      if (!file) return setLocalError('Choose a file to upload.');
      return upload.mutate(file);
    }
    create.mutate({
      source,
      backupType,
      securityLevel: level,
      tags: tags.split(',').map((t) => t.trim()).filter(Boolean),
      retentionDays: retention.trim() ? Number(retention) : undefined,
      priority: Number(priority),
    });
  }

  if (started) return <StartedBackup backupId={started} onAnother={() => (create.reset(), upload.reset())} />;

  const tab = (k: Kind, label: string) => (
    <button type="button" role="tab" aria-selected={kind === k} onClick={() => setKind(k)} className={`rounded-md px-3 py-1.5 text-sm ${kind === k ? 'bg-indigo-600 text-white' : 'bg-slate-100 text-slate-700 hover:bg-slate-200'}`}>
      {label}
    </button>
  );

  return (
    <form onSubmit={submit} className="max-w-3xl space-y-4">
      <PageHeader title="New backup" subtitle="Everything is chunked, deduplicated, compressed, encrypted and replicated to your storage locations." />
      <Card title="What to back up">
        <div className="mb-3 flex flex-wrap gap-2" role="tablist">
          {tab('paths', 'Directory on the server')}
          {tab('text', 'Paste text')}
          {tab('upload', 'Upload a file')}
        </div>
        {kind === 'paths' && (
          <Field label="Source path" hint={pathRootsHint(pathPolicy, 'backup', 'A directory or file on the machine running the console; one per line for several.')}>
            <TextArea rows={3} value={paths} onChange={(e) => setPaths(e.target.value)} placeholder="/var/lib/plexichat" required />
          </Field>
        )}
        {kind === 'text' && (
          <div className="space-y-3">
            <Field label="Name">
              <Input value={textName} onChange={(e) => setTextName(e.target.value)} />
            </Field>
            <Field label="Data">
              <TextArea rows={6} value={text} onChange={(e) => setText(e.target.value)} required />
            </Field>
          </div>
        )}
        {kind === 'upload' && (
          <Field label="File" hint="Streamed to the server, up to its max_upload_mb (1 GiB by default).">
            <Input type="file" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
          </Field>
        )}
      </Card>
      <Card title="Options">
        <div className="grid grid-cols-1 gap-3 sm:grid-cols-2 lg:grid-cols-3">
          <Field label="Type">
            <Select value={backupType} onChange={(e) => setBackupType(e.target.value as typeof backupType)}>
              <option value="full">full</option>
              <option value="incremental">incremental</option>
              <option value="differential">differential</option>
              <option value="snapshot">snapshot</option>
            </Select>
          </Field>
          <Field label="Security level" hint="basic: AES-128 · standard: AES-256 · high: + PBKDF2 · maximum: + Argon2id · government: key in the HSM">
            <Select value={level} onChange={(e) => setLevel(e.target.value as typeof level)}>
              <option value="standard">standard</option>
              <option value="basic">basic</option>
              <option value="high">high</option>
              <option value="maximum">maximum</option>
              <option value="government">government</option>
            </Select>
          </Field>
          <Field label="Priority" hint="1–10, higher is more important">
            <Input type="number" min={1} max={10} value={priority} onChange={(e) => setPriority(e.target.value)} />
          </Field>
          <Field label="Tags" hint="Comma-separated">
            <Input value={tags} onChange={(e) => setTags(e.target.value)} placeholder="nightly, db" />
          </Field>
          <Field label="Retention (days)" hint="Empty: the configured default">
            <Input type="number" min={1} value={retention} onChange={(e) => setRetention(e.target.value)} placeholder="90" />
          </Field>
        </div>
      </Card>
      {localError && <Notice tone="amber">{localError}</Notice>}
      <ErrorBox error={create.error ?? upload.error} title="The backup did not start" />
      <Button type="submit" busy={create.isPending || upload.isPending}>
        Start backup
      </Button>
    </form>
  );
}

/** The backup just started: its live progress, under a title that follows its status. */
function StartedBackup({ backupId, onAnother }: { backupId: string; onAnother: () => void }) {
  const { data: p } = useBackupProgress(backupId);
  return (
    <div className="space-y-4">
      <PageHeader title={backupTitle(p?.status ?? 'running')} subtitle={<span className="font-mono text-xs">{backupId}</span>} />
      <Card title="Progress">
        <ProgressView backupId={backupId} />
      </Card>
      <div className="flex flex-wrap gap-3 text-sm">
        <Link href={`/backups/${encodeURIComponent(backupId)}`} className="font-medium text-indigo-700 hover:underline">
          Open backup details
        </Link>
        <button type="button" className="text-slate-600 hover:underline" onClick={onAnother}>
          Start another backup
        </button>
      </div>
    </div>
  );
}
