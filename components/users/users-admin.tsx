'use client';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { formatDate } from '../format';
import { useConsoleUser } from '../session';
import { type RouterOutputs, useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card, PageHeader } from '../ui/card';
import { useConfirm } from '../ui/confirm-dialog';
import { DataTable } from '../ui/data-table';
import { ErrorBox, Loading, Notice } from '../ui/feedback';
import { Select } from '../ui/form';
import { NewUserForm } from './new-user-form';
import { ResetPasswordPanel } from './reset-password-panel';

const ROLES = ['admin', 'operator', 'viewer'] as const;
type Role = (typeof ROLES)[number];
type User = RouterOutputs['users']['list'][number];

const ROLE_HELP: Record<Role, string> = {
  admin: 'Admins do everything: create, restore and delete backups, configure storage, keys and alerts, manage users, read the audit log.',
  operator: 'Operators create, verify and restore backups and manage schedules; they cannot delete backups, configure or manage users.',
  viewer: 'Viewers only read: backups, storage, schedules, alerts and reports.',
};

export function UsersAdmin() {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const me = useConsoleUser();
  const users = useQuery(trpc.users.list.queryOptions());
  const refresh = () => void qc.invalidateQueries({ queryKey: trpc.users.list.queryKey() });
  const setRole = useMutation(trpc.users.setRole.mutationOptions({ onSettled: refresh }));
  const disable = useMutation(trpc.users.disable.mutationOptions({ onSettled: refresh }));
  const unlock = useMutation(trpc.users.unlock.mutationOptions({ onSettled: refresh }));
  const remove = useMutation(
    trpc.users.delete.mutationOptions({
      onSuccess: (u) => setNotice(`Deleted ${u.email}; their sessions have ended. Their audit entries stay.`),
      onSettled: refresh,
    }),
  );
  const [resetting, setResetting] = useState<{ id: string; email: string } | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [dialog, confirm] = useConfirm();

  const changeRole = async (u: User, role: Role) => {
    if (role === u.role) return;
    const ok = await confirm({
      title: `Make ${u.email} ${/^[aeiou]/.test(role) ? 'an' : 'a'} ${role}?`,
      body: `${ROLE_HELP[role]} The change applies to their open sessions at once.`,
      confirmLabel: `Make ${role}`,
      tone: u.role === 'admin' ? 'danger' : 'primary',
    });
    if (ok) setRole.mutate({ userId: u.id, role });
  };
  const toggleDisabled = async (u: User) => {
    const ok = u.disabled
      ? await confirm({ title: `Enable ${u.email}?`, body: 'They can sign in again with their password.', confirmLabel: 'Enable' })
      : await confirm({ title: `Disable ${u.email}?`, body: 'Every session of this user ends at once and they cannot sign in until an admin enables the account again. Their backups and audit entries stay.', confirmLabel: 'Disable', tone: 'danger' });
    if (ok) disable.mutate({ userId: u.id, disabled: !u.disabled });
  };
  const deleteUser = async (u: User) => {
    const ok = await confirm({
      title: `Delete ${u.email}?`,
      body: 'The account is removed and every session of this user ends at once. Their audit entries stay. This cannot be undone; to stop access for a while, disable the account instead.',
      confirmLabel: 'Delete user',
      tone: 'danger',
    });
    if (ok) {
      setNotice(null);
      remove.mutate({ userId: u.id });
    }
  };
  const unlockUser = async (u: User) => {
    if (await confirm({ title: `Unlock ${u.email}?`, body: 'The sign-in blocks on this account end for every client; they can sign in again at once.', confirmLabel: 'Unlock' })) unlock.mutate({ userId: u.id });
  };
  return (
    <div className="space-y-4">
      {dialog}
      <PageHeader title="Users" subtitle="admin: everything · operator: create, verify, restore · viewer: read only" />
      <NewUserForm onCreated={refresh} />
      <ErrorBox error={setRole.error ?? disable.error ?? unlock.error ?? remove.error} title="Change refused" />
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
          <DataTable
            data-testid="users-table"
            rows={users.data}
            rowKey={(u) => u.id}
            rowProps={(u) => ({ 'data-testid': `user-${u.email}` })}
            columns={[
              {
                key: 'user',
                header: 'User',
                sortValue: (u) => u.email,
                cell: (u) => (
                  <>
                    <div className="font-medium text-slate-800">
                      {u.email}
                      {u.email === me.email && <span className="ml-1.5 text-xs font-normal text-slate-500">(you)</span>}
                    </div>
                    {u.name && <div className="text-xs text-slate-500">{u.name}</div>}
                  </>
                ),
              },
              {
                key: 'role',
                header: 'Role',
                sortValue: (u) => u.role,
                cell: (u) => (
                  <Select
                    aria-label={`Role of ${u.email}`}
                    value={u.role}
                    className="w-32"
                    disabled={u.email === me.email}
                    title={u.email === me.email ? 'You cannot change your own role; ask another admin.' : undefined}
                    onChange={(e) => void changeRole(u, e.target.value as Role)}
                  >
                    {ROLES.map((r) => (
                      <option key={r}>{r}</option>
                    ))}
                  </Select>
                ),
              },
              {
                key: 'state',
                header: 'State',
                sortValue: (u) => (u.disabled ? 'disabled' : u.lockedUntil ? 'locked' : 'active'),
                cell: (u) => (u.disabled ? <Badge tone="red">disabled</Badge> : u.lockedUntil ? <Badge tone="amber">locked until {formatDate(u.lockedUntil)}</Badge> : <Badge tone="green">active</Badge>),
              },
              {
                key: 'last',
                header: 'Last sign-in',
                className: 'hidden md:table-cell whitespace-nowrap text-xs text-slate-500',
                sortValue: (u) => u.lastLoginAt,
                cell: (u) => formatDate(u.lastLoginAt),
              },
              {
                key: 'actions',
                header: <span className="sr-only">Actions</span>,
                align: 'right',
                cell: (u) => (
                  <div className="flex flex-wrap justify-end gap-2">
                    {u.lockedUntil && (
                      <Button variant="secondary" busy={unlock.isPending && unlock.variables?.userId === u.id} onClick={() => void unlockUser(u)}>
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
                      <>
                        <Button variant="secondary" busy={disable.isPending && disable.variables?.userId === u.id} onClick={() => void toggleDisabled(u)}>
                          {u.disabled ? 'Enable' : 'Disable'}
                        </Button>
                        <Button variant="danger" busy={remove.isPending && remove.variables?.userId === u.id} onClick={() => void deleteUser(u)}>
                          Delete
                        </Button>
                      </>
                    )}
                  </div>
                ),
              },
            ]}
          />
        )}
      </Card>
    </div>
  );
}
