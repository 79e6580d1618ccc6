import type { Metadata } from 'next';
import { HealthReportView } from '@/components/reports/health-report';

export const metadata: Metadata = { title: 'Health report' };

export default function ReportsPage() {
  return <HealthReportView />;
}
