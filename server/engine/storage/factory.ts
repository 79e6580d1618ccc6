import type { StorageLocationConfig } from '../../config';
import type { BackendOptions, StorageBackend } from './backend';

export type { BackendOptions } from './backend';
import { isAppendOnly } from '../../config-immutability';
import { LocalBackend } from './local';
import { withRetries } from './retrying';


/** Builds the backend for one configured location. Cloud SDKs are loaded only when a location uses them. */
export async function createBackend(loc: StorageLocationConfig, opts: BackendOptions): Promise<StorageBackend> {
  switch (loc.type) {
    case 'local':
      // Local calls get the same time limit as cloud ones (a hung NFS mount or a pseudo file system must not
      // hang a backup or the console's "Test"); no retries: a local failure rarely heals in seconds.
      return withRetries(new LocalBackend(loc.name, loc.path!, undefined, isAppendOnly(loc)), { ...opts, retries: 0 });
    case 's3': {
      const { createS3Backend } = await import('./s3');
      return createS3Backend(loc, opts);
    }
    case 'azure': {
      const { createAzureBackend } = await import('./azure');
      return createAzureBackend(loc, opts);
    }
    case 'gcs': {
      const { createGcsBackend } = await import('./gcs');
      return createGcsBackend(loc, opts);
    }
  }
}
