'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { ErrorBox, Loading, Notice } from '../ui/feedback';
import { type EditableLocation, LocationForm } from './location-form';

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
  if (list.isPending) return <Loading label="Loading locations…" />;
  if (list.error) return <ErrorBox error={list.error} title="Could not load storage locations" />;
  const done = () => {
    setEditing(null);
    refresh();
  };
  return (
    <section className="space-y-3" aria-label="Manage storage locations">
      <Card title="Manage locations" actions={<Button onClick={() => setEditing('new')}>Add location</Button>}>
        <Notice tone="blue">
          Locations added here are stored in the catalog with their credentials encrypted under the master key. Changes apply at once here and within seconds in every
          worker; new backups use them right away (Optimize placement, below, moves existing replicas). Locations from the configuration file are read-only here, and win over
          a console location of the same name.
        </Notice>
        <table className="mt-3 w-full text-left text-sm">
          <thead className="text-xs uppercase text-slate-500">
            <tr>
              <th className="py-1">Name</th>
              <th>Type</th>
              <th>Region</th>
              <th>Priority</th>
              <th>Credentials</th>
              <th>State</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {list.data.map((l) => (
              <tr key={l.name} className="border-t border-slate-100 align-top">
                <td className="py-1.5 font-medium text-slate-800">{l.name}</td>
                <td>{l.type}</td>
                <td>{l.region}</td>
                <td className="tabular-nums">{l.priority}</td>
                <td className="font-mono text-xs text-slate-600">{credentialSummary(l.settings)}</td>
                <td className="space-x-1">
                  <Badge tone={l.source === 'config' ? 'slate' : 'blue'}>{l.source === 'config' ? 'config file' : 'console'}</Badge>
                  <Badge tone={l.enabled ? 'green' : 'slate'}>{l.enabled ? 'enabled' : 'disabled'}</Badge>
                  {!l.active && l.enabled && <Badge tone="amber">not open — see the server log</Badge>}
                  {tested[l.name] && <span className="block text-xs text-slate-600">{tested[l.name]}</span>}
                </td>
                <td className="space-x-1 text-right">
                  <Button variant="secondary" busy={test.isPending && test.variables && 'name' in test.variables && test.variables.name === l.name} onClick={() => test.mutate({ name: l.name })}>
                    Test
                  </Button>
                  {l.source === 'console' && (
                    <>
                      <Button variant="secondary" onClick={() => setEditing(l)}>
                        Edit
                      </Button>
                      <Button variant={l.enabled ? 'danger' : 'secondary'} onClick={() => disable.mutate({ name: l.name, disabled: l.enabled })}>
                        {l.enabled ? 'Disable' : 'Enable'}
                      </Button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
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
