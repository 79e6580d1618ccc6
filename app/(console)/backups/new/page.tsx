import type { Metadata } from 'next';
import { NewBackupForm } from '@/components/backups/new-backup-form';
import { RequirePermission } from '@/components/require-permission';

export const metadata: Metadata = { title: 'New backup' };

export default function NewBackupPage() {
  return (
    <RequirePermission procedure="backup.create">
      <NewBackupForm />
    </RequirePermission>
  );
}
