'use client';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { ErrorBox, Notice } from '../ui/feedback';
import { Field, Input, Select } from '../ui/form';

type LocationType = 'local' | 's3' | 'azure' | 'gcs';

interface KeyField {
  key: string;
  label: string;
  secret?: boolean;
  flag?: boolean;
  hint?: string;
}

/** The keys the form asks for, per type; secret ones are write-only (never shown back, only masked). */
const FIELDS: Record<LocationType, KeyField[]> = {
  local: [{ key: 'path', label: 'Directory', hint: 'An absolute path on the server' }],
  s3: [
    { key: 'bucket_name', label: 'Bucket' },
    { key: 'endpoint', label: 'Endpoint', hint: 'Empty for AWS; the URL of an S3-compatible store otherwise' },
    { key: 'force_path_style', label: 'Path-style requests', flag: true },
    { key: 'access_key_id', label: 'Access key id', secret: true },
    { key: 'secret_access_key', label: 'Secret access key', secret: true },
  ],
  azure: [
    { key: 'container_name', label: 'Container' },
    { key: 'connection_string', label: 'Connection string', secret: true },
  ],
  gcs: [
    { key: 'bucket_name', label: 'Bucket' },
    { key: 'project', label: 'Project' },
    { key: 'api_endpoint', label: 'API endpoint', hint: 'Empty for Google Cloud' },
    { key: 'credentials_json', label: 'Service account key (JSON or file path)', secret: true },
  ],
};

export interface EditableLocation {
  name: string;
  type: string;
  priority: number;
  region: string;
  max_size_gb: number | null;
  settings: Record<string, unknown>;
}

const isType = (t: string): t is LocationType => t in FIELDS;

/** Add a location, or (given `existing`) edit one; secrets left empty keep their stored value. */
export function LocationForm({ existing, onDone }: { existing?: EditableLocation; onDone: () => void }) {
  const trpc = useTRPC();
  const [name, setName] = useState(existing?.name ?? '');
  const [type, setType] = useState<LocationType>(existing && isType(existing.type) ? existing.type : 's3');
  const [priority, setPriority] = useState(String(existing?.priority ?? 20));
  const [region, setRegion] = useState(existing?.region ?? '');
  const [maxGb, setMaxGb] = useState(existing?.max_size_gb ? String(existing.max_size_gb) : '');
  const [keys, setKeys] = useState<Record<string, string | boolean>>(() => initialKeys(existing));
  const onSuccess = () => onDone();
  const add = useMutation(trpc.storage.addLocation.mutationOptions({ onSuccess }));
  const update = useMutation(trpc.storage.updateLocation.mutationOptions({ onSuccess }));
  const test = useMutation(trpc.storage.testLocation.mutationOptions());

  const values = () => {
    const out: Record<string, string | number | boolean | null> = { priority: Number(priority) || 0, region: region || 'local', max_size_gb: maxGb ? Number(maxGb) : null };
    for (const f of FIELDS[type]) {
      const v = keys[f.key];
      if (typeof v === 'boolean') out[f.key] = v;
      else if (v) out[f.key] = v;
    }
    return out;
  };
  const submit = (e: FormEvent) => {
    e.preventDefault();
    if (existing) update.mutate({ name: existing.name, patch: values() });
    else add.mutate({ name, type, ...values() });
  };
  return (
    <Card title={existing ? `Edit ${existing.name}` : 'Add a storage location'}>
      <form onSubmit={submit} className="grid grid-cols-1 items-end gap-3 sm:grid-cols-2 lg:grid-cols-3">
        <Field label="Location name">
          <Input value={name} onChange={(e) => setName(e.target.value)} required disabled={Boolean(existing)} pattern="[A-Za-z0-9][A-Za-z0-9_.\-]{0,62}" />
        </Field>
        <Field label="Type">
          <Select aria-label="Type" value={type} onChange={(e) => setType(e.target.value as LocationType)} disabled={Boolean(existing)}>
            <option value="s3">Amazon S3 / S3-compatible</option>
            <option value="azure">Azure Blob Storage</option>
            <option value="gcs">Google Cloud Storage</option>
            <option value="local">Local directory</option>
          </Select>
        </Field>
        <Field label="Priority" hint="Lower is preferred">
          <Input type="number" min={0} max={1000} value={priority} onChange={(e) => setPriority(e.target.value)} />
        </Field>
        <Field label="Region" hint="Replicas are spread across regions">
          <Input value={region} onChange={(e) => setRegion(e.target.value)} placeholder="e.g. eu-west" />
        </Field>
        <Field label="Capacity (GB)" hint="Empty: unlimited">
          <Input type="number" min={0} step="any" value={maxGb} onChange={(e) => setMaxGb(e.target.value)} />
        </Field>
        {FIELDS[type].map((f) => (
          <Field key={f.key} label={f.label} hint={f.secret && existing ? `Stored: ${String(existing.settings[f.key] ?? 'none')} — leave empty to keep it` : f.hint}>
            {f.flag ? (
              <input type="checkbox" checked={keys[f.key] === true} onChange={(e) => setKeys({ ...keys, [f.key]: e.target.checked })} />
            ) : (
              <Input type={f.secret ? 'password' : 'text'} autoComplete="off" value={String(keys[f.key] ?? '')} onChange={(e) => setKeys({ ...keys, [f.key]: e.target.value })} />
            )}
          </Field>
        ))}
        <div className="flex flex-wrap gap-2 sm:col-span-2 lg:col-span-3">
          <Button type="submit" busy={add.isPending || update.isPending}>
            {existing ? 'Save' : 'Add location'}
          </Button>
          {!existing && (
            <Button variant="secondary" busy={test.isPending} onClick={() => test.mutate({ location: { name: name || 'draft', type, ...values() } })}>
              Test before adding
            </Button>
          )}
          <Button variant="ghost" onClick={onDone}>
            Cancel
          </Button>
        </div>
      </form>
      <div className="mt-3 space-y-2">
        <ErrorBox error={add.error ?? update.error ?? test.error} title="The location was not saved" />
        {test.data && (
          <Notice tone={test.data.ok ? 'green' : 'amber'}>{test.data.ok ? `Reachable: put, get and delete took ${test.data.latency_ms} ms.` : `Test failed: ${test.data.error}`}</Notice>
        )}
      </div>
    </Card>
  );
}

function initialKeys(existing?: EditableLocation): Record<string, string | boolean> {
  if (!existing || !isType(existing.type)) return {};
  const out: Record<string, string | boolean> = {};
  for (const f of FIELDS[existing.type]) {
    const v = existing.settings[f.key];
    if (f.secret) continue; // write-only: never pre-filled
    if (typeof v === 'boolean' || typeof v === 'string') out[f.key] = v;
  }
  return out;
}
