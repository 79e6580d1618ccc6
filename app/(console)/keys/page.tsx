import type { Metadata } from 'next';
import { KeysPanel } from '@/components/keys/keys-panel';

export const metadata: Metadata = { title: 'Keys' };

export default function KeysPage() {
  return <KeysPanel />;
}
