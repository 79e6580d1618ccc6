import type { Metadata } from 'next';
import { LocationDetail } from '@/components/storage/location-detail';

export const metadata: Metadata = { title: 'Storage location' };

export default async function LocationPage({ params }: { params: Promise<{ name: string }> }) {
  const { name } = await params;
  return <LocationDetail name={decodeURIComponent(name)} />;
}
