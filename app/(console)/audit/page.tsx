import type { Metadata } from 'next';
import { AuditLog } from '@/components/audit/audit-log';
import { RequirePermission } from '@/components/require-permission';

export const metadata: Metadata = { title: 'Audit log' };

export default function AuditPage() {
  return (
    <RequirePermission procedure="audit.list">
      <AuditLog />
    </RequirePermission>
  );
}
