import type { Metadata } from 'next';
import { StorageOverview } from '@/components/storage/storage-overview';

export const metadata: Metadata = { title: 'Storage' };

export default function StoragePage() {
  return <StorageOverview />;
}
