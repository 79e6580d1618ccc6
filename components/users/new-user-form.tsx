'use client';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { Card } from '../ui/card';
import { ErrorBox, Notice } from '../ui/feedback';
import { Field, Input, Select } from '../ui/form';

export function NewUserForm({ onCreated }: { onCreated: () => void }) {
  const trpc = useTRPC();
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<'admin' | 'operator' | 'viewer'>('viewer');
  const create = useMutation(
    trpc.users.create.mutationOptions({
      onSuccess: () => {
        setEmail('');
        setName('');
        setPassword('');
        onCreated();
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate({ email, name: name || undefined, password, role });
  };
  return (
    <Card title="Add a user">
      <form onSubmit={submit} className="grid grid-cols-1 items-end gap-3 sm:grid-cols-2 lg:grid-cols-5">
        <Field label="New user email">
          <Input type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </Field>
        <Field label="Name">
          <Input value={name} onChange={(e) => setName(e.target.value)} placeholder="optional" />
        </Field>
        <Field label="Initial password">
          <Input type="password" value={password} onChange={(e) => setPassword(e.target.value)} minLength={10} required autoComplete="new-password" />
        </Field>
        <Field label="Role">
          <Select aria-label="Role" value={role} onChange={(e) => setRole(e.target.value as typeof role)}>
            <option value="viewer">viewer</option>
            <option value="operator">operator</option>
            <option value="admin">admin</option>
          </Select>
        </Field>
        <Button type="submit" busy={create.isPending}>
          Add user
        </Button>
      </form>
      <div className="mt-3">
        <ErrorBox error={create.error} title="Could not add the user" />
        {create.data && <Notice>Added {create.data.email} as {create.data.role}. Give them their password over a safe channel.</Notice>}
      </div>
    </Card>
  );
}
