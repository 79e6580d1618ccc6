'use client';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { useRouter } from 'next/navigation';
import { useState } from 'react';
import { useTRPC } from '../trpc/client';
import { Button } from '../ui/button';
import { ErrorBox } from '../ui/feedback';

/** Admin-only; asks for confirmation, then deletes the backup and the shards nothing else uses. */
export function DeleteBackup({ backupId, running }: { backupId: string; running: boolean }) {
  const trpc = useTRPC();
  const qc = useQueryClient();
  const router = useRouter();
  const [confirming, setConfirming] = useState(false);
  const del = useMutation(
    trpc.backup.delete.mutationOptions({
      onSuccess: async () => {
        await qc.invalidateQueries({ queryKey: trpc.backup.list.queryKey() });
        router.push('/backups');
      },
    }),
  );
  if (!confirming) {
    return (
      <Button variant="danger" onClick={() => setConfirming(true)}>
        Delete
      </Button>
    );
  }
  return (
    <div role="alertdialog" aria-label="Confirm delete" className="flex max-w-md flex-col gap-2 rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-900">
      <p>Delete this backup for good? Shards no other backup uses are removed from every location. This cannot be undone.</p>
      <div className="flex gap-2">
        <Button variant="danger" busy={del.isPending} onClick={() => del.mutate({ backupId, force: running })}>
          Yes, delete
        </Button>
        <Button variant="secondary" onClick={() => setConfirming(false)}>
          Cancel
        </Button>
      </div>
      <ErrorBox error={del.error} title="Delete failed" />
    </div>
  );
}
