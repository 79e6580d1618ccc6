import type { Metadata } from 'next';
import { BackupList } from '@/components/backups/backup-list';

export const metadata: Metadata = { title: 'Backups' };

export default function BackupsPage() {
  return <BackupList />;
}
