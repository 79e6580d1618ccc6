'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { type RouterOutputs, useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { useConfirm } from '../ui/confirm-dialog';
import { type Column, DataTable } from '../ui/data-table';
import { ErrorBox, Loading, Notice } from '../ui/feedback';
import { type EditableLocation, LocationForm } from './location-form';
import { locationKind } from './location-label';

type Location = RouterOutputs['storage']['listLocations'][number];

/** Admins: every location with its source, masked credentials, and add / edit / test / disable. */
export function ManageLocations() {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const list = useQuery(trpc.storage.listLocations.queryOptions());
  const [editing, setEditing] = useState<EditableLocation | 'new' | null>(null);
  const [tested, setTested] = useState<Record<string, string>>({});
  const refresh = () => void queryClient.invalidateQueries({ queryKey: trpc.storage.listLocations.queryKey() });
  const test = useMutation(
    trpc.storage.testLocation.mutationOptions({
      onSuccess: (r, input) => {
        const name = 'name' in input ? input.name : input.location.name;
        setTested((t) => ({ ...t, [name]: r.ok ? `ok · ${r.latency_ms} ms` : `failed: ${r.error}` }));
      },
    }),
  );
  const disable = useMutation(trpc.storage.disableLocation.mutationOptions({ onSuccess: refresh }));
  const [dialog, confirm] = useConfirm();
  if (list.isPending) return <Loading label="Loading locations…" />;
  if (list.error) return <ErrorBox error={list.error} title="Could not load storage locations" />;
  const done = () => {
    setEditing(null);
    refresh();
  };
  const toggle = async (l: Location) => {
    if (l.enabled && !(await confirm({ title: `Disable storage location ${l.name}?`, body: 'New backups stop writing to it and restores stop reading from it; the data on it stays. You can enable it again.', confirmLabel: 'Disable location', tone: 'danger' }))) return;
    disable.mutate({ name: l.name, disabled: l.enabled });
  };
  const columns: Column<Location>[] = [
    { key: 'name', header: 'Name', sortValue: (l) => l.name, cell: (l) => <span className="font-medium text-slate-800">{l.name}</span> },
    { key: 'type', header: 'Type', sortValue: (l) => l.type, cell: (l) => locationKind(l) },
    { key: 'where', header: 'Where', sortValue: (l) => l.where, cell: (l) => <span className="break-all font-mono text-xs">{l.where}</span> },
    { key: 'priority', header: 'Priority', align: 'right', sortValue: (l) => l.priority, cell: (l) => l.priority },
    { key: 'credentials', header: 'Credentials', cell: (l) => <span className="font-mono text-xs text-slate-600">{credentialSummary(l.settings)}</span> },
    {
      key: 'state',
      header: 'State',
      cell: (l) => (
        <span className="flex flex-wrap gap-1">
          <Badge tone={l.source === 'config' ? 'slate' : 'blue'}>{l.source === 'config' ? 'config file' : 'console'}</Badge>
          <Badge tone={l.enabled ? 'green' : 'slate'}>{l.enabled ? 'enabled' : 'disabled'}</Badge>
          {!l.active && l.enabled && <Badge tone="amber">not open — see the server log</Badge>}
          {tested[l.name] && <span className="block w-full text-xs text-slate-600">{tested[l.name]}</span>}
        </span>
      ),
    },
    {
      key: 'actions',
      header: <span className="sr-only">Actions</span>,
      align: 'right',
      className: 'whitespace-nowrap',
      cell: (l) => (
        <span className="inline-flex gap-1">
          <Button variant="secondary" busy={test.isPending && test.variables && 'name' in test.variables && test.variables.name === l.name} onClick={() => test.mutate({ name: l.name })}>
            Test
          </Button>
          {l.source === 'console' && (
            <>
              <Button variant="secondary" onClick={() => setEditing(l)}>
                Edit
              </Button>
              <Button variant={l.enabled ? 'danger' : 'secondary'} onClick={() => void toggle(l)}>
                {l.enabled ? 'Disable' : 'Enable'}
              </Button>
            </>
          )}
        </span>
      ),
    },
  ];
  return (
    <section className="space-y-3" aria-label="Manage storage locations">
      {dialog}
      <Card title="Manage locations" actions={<Button onClick={() => setEditing('new')}>Add location</Button>}>
        <Notice tone="blue">
          Locations added here are stored in the catalog with their credentials encrypted under the master key. Changes apply at once here and within seconds in every
          worker; new backups use them right away (Optimize placement, below, moves existing replicas). Locations from the configuration file are read-only here, and win over
          a console location of the same name.
        </Notice>
        <div className="mt-3">
          <DataTable
            columns={columns}
            rows={list.data}
            rowKey={(l) => l.name}
            data-testid="manage-locations"
            empty={<p className="text-sm text-slate-500">No storage location yet: add one.</p>}
          />
        </div>
        <ErrorBox error={test.error ?? disable.error} title="The action failed" />
      </Card>
      {editing && <LocationForm key={editing === 'new' ? 'new' : editing.name} existing={editing === 'new' ? undefined : editing} onDone={done} />}
    </section>
  );
}

const SECRET_KEYS = ['access_key_id', 'secret_access_key', 'session_token', 'connection_string', 'account_key', 'sas_token', 'credentials_json'];

function credentialSummary(settings: Record<string, unknown>): string {
  const shown = SECRET_KEYS.filter((k) => typeof settings[k] === 'string').map((k) => `${k}=${String(settings[k])}`);
  return shown.length ? shown.join(' ') : '—';
}

