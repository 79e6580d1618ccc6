/**
 * s3rver, in process, on 127.0.0.1 and a free port, storing into a fresh temp directory. Credentials are the
 * fixed S3RVER / S3RVER pair; clients need forcePathStyle.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import type { Server } from 'node:http';
import path from 'node:path';

interface S3rverOptions {
  address: string;
  port: number;
  directory: string;
  silent: boolean;
  configureBuckets: { name: string }[];
}
interface S3rverInstance {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
  /** Set by run(). */
  httpServer?: Server;
}
type S3rverClass = new (options: S3rverOptions) => S3rverInstance;

// s3rver ships no type declarations; its constructor/run/close are described above.
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

export const S3RVER_CREDENTIALS = { access_key_id: 'S3RVER', secret_access_key: 'S3RVER' } as const;

export interface S3Server {
  endpoint: string;
  close(): Promise<void>;
}

export async function startS3Server(opts: { buckets?: string[] } = {}): Promise<S3Server> {
  const directory = await mkdtemp(path.join(tmpdir(), 'px-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: (opts.buckets ?? []).map((name) => ({ name })) });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: async () => {
      try {
        // Keep-alive sockets of clients that were not destroyed would otherwise hold close() open.
        server.httpServer?.closeAllConnections();
        await server.close();
      } finally {
        await rm(directory, { recursive: true, force: true });
      }
    },
  };
}
