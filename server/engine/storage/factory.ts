import type { OutboundPolicyConfig, StorageLocationConfig } from '../../config';
import type { StorageBackend } from './backend';
import { LocalBackend } from './local';
import { withRetries } from './retrying';

export interface BackendOptions {
  /** Per-call timeout for every storage call (local ones too). */
  timeoutMs: number;
  /** Attempts after the first for transient failures. */
  retries: number;
  /** Base of the exponential backoff between attempts. */
  backoffMs: number;
  log?: (msg: string) => void;
  /** The installation's outbound network policy (config.outbound); unset: the default denied networks. */
  outbound?: Partial<OutboundPolicyConfig>;
}

/** Builds the backend for one configured location. Cloud SDKs are loaded only when a location uses them. */
export async function createBackend(loc: StorageLocationConfig, opts: BackendOptions): Promise<StorageBackend> {
  switch (loc.type) {
    case 'local':
      // Local calls get the same time limit as cloud ones (a hung NFS mount or a pseudo file system must not
      // hang a backup or the console's "Test"); no retries: a local failure rarely heals in seconds.
      return withRetries(new LocalBackend(loc.name, loc.path!), { ...opts, retries: 0 });
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
