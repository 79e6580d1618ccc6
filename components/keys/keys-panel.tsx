'use client';
import { useMutation, useQuery } from '@tanstack/react-query';
import { type FormEvent, useState } from 'react';
import { downloadJson } from '../download';
import { formatDate } from '../format';
import { useTRPC } from '../trpc/client';
import { Badge } from '../ui/badge';
import { Button } from '../ui/button';
import { Card, DefinitionList, PageHeader } from '../ui/card';
import { ErrorBox, Loading, Notice } from '../ui/feedback';
import { Field, TextArea } from '../ui/form';

/** Admins: the master key (fingerprint only), its rotation state, and key escrow. */
export function KeysPanel() {
  const trpc = useTRPC();
  const { data: k, error, isPending } = useQuery(trpc.keys.status.queryOptions());
  const [pem, setPem] = useState('');
  const escrow = useMutation(
    trpc.keys.escrow.mutationOptions({
      onSuccess: (pkg) => downloadJson(`key-escrow-${pkg.created_at.slice(0, 10)}.json`, pkg),
    }),
  );
  const submit = (e: FormEvent) => {
    e.preventDefault();
    escrow.mutate({ publicKeyPem: pem });
  };
  return (
    <div className="space-y-4">
      <PageHeader title="Keys" subtitle="The master key that wraps every backup's data key, its rotation, and key escrow" />
      <ErrorBox error={error} title="Could not read the key status" />
      {isPending && <Loading />}
      {k && (
        <Card title="Master key" actions={k.rotation_due ? <Badge tone="amber">rotation due</Badge> : <Badge tone="green">within policy</Badge>}>
          <DefinitionList
            items={[
              ['Fingerprint', <code key="f">{k.master_key}</code>],
              ['Held in', k.source],
              ['Age', k.key_age_days === null ? '—' : `${k.key_age_days} days (rotate every ${k.key_rotation_days})`],
              ['Last rotation', k.last_rotation ? formatDate(k.last_rotation) : 'never'],
              ['Replaced keys still configured', k.previous_keys.length ? k.previous_keys.join(', ') : 'none'],
              ['Data keys', Object.entries(k.data_keys_by_master).map(([id, n]) => `${n} under ${id}`).join(' · ') || 'none'],
            ]}
          />
          {k.rotation_unfinished && (
            <div className="mt-3">
              <Notice tone="amber">A rotation has not finished: keep the replaced key configured and run plexichat-backup keys rotate again.</Notice>
            </div>
          )}
          <p className="mt-3 text-xs text-slate-500">
            Rotation re-wraps every key under a new master key without re-encrypting data. It runs on the server: <code>plexichat-backup keys rotate</code> (see the README for a key given in
            PLEXICHAT_ENCRYPTION_KEY).
          </p>
        </Card>
      )}
      <Card title="Key escrow">
        <form onSubmit={submit} className="space-y-3">
          <Field label="Escrow holder's public key" hint="An RSA public key of at least 3072 bits, PEM. The package holds the master keys sealed to it; only its private key opens it (plexichat-backup keys escrow open).">
            <TextArea rows={6} value={pem} onChange={(e) => setPem(e.target.value)} placeholder="-----BEGIN PUBLIC KEY-----" />
          </Field>
          <Button type="submit" busy={escrow.isPending} disabled={!pem.trim()}>
            Export escrow package
          </Button>
          <ErrorBox error={escrow.error} title="No escrow package" />
          {escrow.data && (
            <Notice>
              <span data-testid="escrow-result">
                Downloaded the escrow package for {escrow.data.master_keys.join(', ')}, sealed for public key {escrow.data.recipient.slice(0, 16)}….
              </span>
            </Notice>
          )}
        </form>
      </Card>
    </div>
  );
}
