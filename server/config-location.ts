/**
 * The shape of one storage location as every module reads it. The zod schema in config.ts is the full
 * definition (and validates it); this structural copy lets config-cloud.ts type its helpers without
 * importing config.ts, which imports it.
 */
export interface StorageLocationFields {
  name: string;
  type: 'local' | 's3' | 'azure' | 'gcs';
  path?: string;
  priority: number;
  max_size_gb?: number;
  region: string;
  enabled: boolean;
  [key: string]: unknown;
}
