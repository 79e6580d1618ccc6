'use client';
import { useMutation } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { ErrorBox } from '../ui/feedback';
import { Field, Input } from '../ui/form';

/**
 * An admin sets a new password for a user (the user forgot it, or it leaked). The server ends every
 * session of that user and lifts sign-in blocks; resetting your own password signs you out too.
 */
export function ResetPasswordPanel({ user, self, onDone, onCancel }: { user: { id: string; email: string }; self: boolean; onDone: (email: string) => void; onCancel: () => void }) {
  const trpc = useTRPC();
  const [password, setPassword] = useState('');
  const reset = useMutation(
    trpc.users.resetPassword.mutationOptions({
      onSuccess: (u) => {
        if (self) window.location.assign('/login');
        else onDone(u.email);
      },
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    reset.mutate({ userId: user.id, password });
  };
  return (
    <form onSubmit={submit} role="alertdialog" aria-label={`Reset the password of ${user.email}`} className="flex flex-col gap-3 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
      <p>
        Set a new password for <span className="font-semibold">{user.email}</span>? Every session of this user ends at once
        {self ? ', including this one: you will sign in again with the new password.' : '; give them the new password over a safe channel.'}
      </p>
      <div className="flex flex-wrap items-end gap-2">
        <Field label="New password">
          <Input type="password" value={password} onChange={(e) => setPassword(e.target.value)} minLength={10} maxLength={1024} required autoComplete="new-password" autoFocus />
        </Field>
        <Button type="submit" variant="danger" busy={reset.isPending}>
          Yes, set the password
        </Button>
        <Button variant="secondary" onClick={onCancel}>
          Cancel
        </Button>
      </div>
      <ErrorBox error={reset.error} title="Password not changed" />
    </form>
  );
}
