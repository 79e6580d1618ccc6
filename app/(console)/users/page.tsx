import type { Metadata } from 'next';
import { RequirePermission } from '@/components/require-permission';
import { UsersAdmin } from '@/components/users/users-admin';

export const metadata: Metadata = { title: 'Users' };

export default function UsersPage() {
  return (
    <RequirePermission procedure="users.list">
      <UsersAdmin />
    </RequirePermission>
  );
}
