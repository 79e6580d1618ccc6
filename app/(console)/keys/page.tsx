import type { Metadata } from 'next';
import { KeysPanel } from '@/components/keys/keys-panel';
import { RequirePermission } from '@/components/require-permission';

export const metadata: Metadata = { title: 'Keys' };

export default function KeysPage() {
  return (
    <RequirePermission procedure="keys.status">
      <KeysPanel />
    </RequirePermission>
  );
}
