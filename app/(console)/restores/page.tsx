import type { Metadata } from 'next';
import { RequirePermission } from '@/components/require-permission';
import { RestoreList } from '@/components/restores/restore-list';

export const metadata: Metadata = { title: 'Restores' };

export default function RestoresPage() {
  return (
    <RequirePermission procedure="restores.list">
      <RestoreList />
    </RequirePermission>
  );
}
