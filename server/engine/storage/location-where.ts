/** Where a storage location keeps its objects, as an admin would recognise it: the directory, or the bucket and prefix. */
import type { StorageLocationConfig } from '../../config';

const str = (v: unknown) => (typeof v === 'string' && v.length > 0 ? v : null);

export function locationWhere(l: StorageLocationConfig): string {
  const prefix = str(l.prefix)?.replace(/^\/+/, '') ?? '';
  const under = (scheme: string, bucket: unknown) => `${scheme}://${str(bucket) ?? '?'}${prefix ? `/${prefix}` : ''}`;
  if (l.type === 's3') return under('s3', l.bucket_name);
  if (l.type === 'gcs') return under('gs', l.bucket_name);
  if (l.type === 'azure') return under('azure', l.container_name);
  return l.path ?? '?';
}
