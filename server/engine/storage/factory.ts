import type { OutboundPolicyConfig, StorageLocationConfig } from '../../config';
import type { StorageBackend } from './backend';
import { LocalBackend } from './local';

export interface BackendOptions {
  /** Per-call timeout for cloud requests. */
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
      return new LocalBackend(loc.name, loc.path!);
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
