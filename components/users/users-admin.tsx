'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { formatDate } from '../format';
import { useConsoleUser } from '../session';
import { useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card, PageHeader } from '../ui/card';
import { ErrorBox, Loading, Notice } from '../ui/feedback';
import { Select } from '../ui/form';
import { NewUserForm } from './new-user-form';
import { ResetPasswordPanel } from './reset-password-panel';

const ROLES = ['admin', 'operator', 'viewer'] as const;

export function UsersAdmin() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const me = useConsoleUser();
  const users = useQuery(trpc.users.list.queryOptions());
  const refresh = () => void qc.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const setRole = useMutation(trpc.users.setRole.mutationOptions({ onSettled: refresh }));
  const disable = useMutation(trpc.users.disable.mutationOptions({ onSettled: refresh }));
  const unlock = useMutation(trpc.users.unlock.mutationOptions({ onSettled: refresh }));
  const [resetting, setResetting] = useState<{ id: string; email: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <div className="space-y-4">
      <PageHeader title="Users" subtitle="admin: everything · operator: create, verify, restore · viewer: read only" />
      <NewUserForm onCreated={refresh} />
      <ErrorBox error={setRole.error ?? disable.error ?? unlock.error} title="Change refused" />
      {notice && <Notice>{notice}</Notice>}
      {resetting && (
        <ResetPasswordPanel
          key={resetting.id}
          user={resetting}
          self={resetting.email === me.email}
          onCancel={() => setResetting(null)}
          onDone={(email) => {
            setResetting(null);
            setNotice(`Set a new password for ${email}; their sessions have ended.`);
            refresh();
          }}
        />
      )}
      <Card title="Accounts">
        {users.isPending ? (
          <Loading />
        ) : users.error ? (
          <ErrorBox error={users.error} />
        ) : (
          <div className="overflow-x-auto">
            <table className="w-full text-left text-sm">
              <thead className="border-b border-slate-200 text-xs uppercase tracking-wide text-slate-500">
                <tr>
                  <th className="py-2 pr-3 font-medium">User</th>
                  <th className="py-2 pr-3 font-medium">Role</th>
                  <th className="py-2 pr-3 font-medium">State</th>
                  <th className="hidden py-2 pr-3 font-medium md:table-cell">Last sign-in</th>
                  <th className="py-2 text-right font-medium">Actions</th>
                </tr>
              </thead>
              <tbody className="divide-y divide-slate-100">
                {users.data.map((u) => (
                  <tr key={u.id}>
                    <td className="py-2 pr-3">
                      <div className="font-medium text-slate-800">{u.email}</div>
                      {u.name && <div className="text-xs text-slate-500">{u.name}</div>}
                    </td>
                    <td className="py-2 pr-3">
                      <Select aria-label={`Role of ${u.email}`} value={u.role} className="w-32" onChange={(e) => setRole.mutate({ userId: u.id, role: e.target.value as (typeof ROLES)[number] })}>
                        {ROLES.map((r) => (
                          <option key={r}>{r}</option>
                        ))}
                      </Select>
                    </td>
                    <td className="py-2 pr-3">
                      {u.disabled ? <Badge tone="red">disabled</Badge> : u.lockedUntil ? <Badge tone="amber">locked until {formatDate(u.lockedUntil)}</Badge> : <Badge tone="green">active</Badge>}
                    </td>
                    <td className="hidden py-2 pr-3 text-xs text-slate-500 md:table-cell">{formatDate(u.lastLoginAt)}</td>
                    <td className="py-2 text-right">
                      <div className="flex flex-wrap justify-end gap-2">
                        {u.lockedUntil && (
                          <Button
                            variant="secondary"
                            busy={unlock.isPending && unlock.variables?.userId === u.id}
                            onClick={() => window.confirm(`Unlock ${u.email}? Sign-in blocks on this account end for every client.`) && unlock.mutate({ userId: u.id })}
                          >
                            Unlock
                          </Button>
                        )}
                        <Button
                          variant="secondary"
                          onClick={() => {
                            setNotice(null);
                            setResetting({ id: u.id, email: u.email });
                          }}
                        >
                          Reset password
                        </Button>
                        {u.email !== me.email && (
                          <Button variant="secondary" onClick={() => disable.mutate({ userId: u.id, disabled: !u.disabled })}>
                            {u.disabled ? 'Enable' : 'Disable'}
                          </Button>
                        )}
                      </div>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </div>
  );
}
