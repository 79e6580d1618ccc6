/** Writes generated files with bounded concurrency, remembering each file's size and SHA-256. */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MiB } from './settings';

export interface FileSum {
  size: number;
  sha256: string;
  /** A symbolic link's target (real trees only; size 0 and no hash then). */
  link?: string;
}

/** Relative path ('/'-separated) → size and hash of every regular file (and target of every symlink) in a tree. */
export type Sums = Record<string, FileSum>;

export class TreeWriter {
  readonly sums: Sums = {};
  files = 0;
  bytes = 0;
  private readonly dirs = new Set<string>();
  private readonly inFlight = new Set<Promise<void>>();
  private inFlightBytes = 0;

  constructor(
    private readonly root: string,
    private readonly withSums: boolean,
    private readonly maxFiles = 64,
    private readonly maxBytes = 256 * MiB,
  ) {}

  /** Queues a file; resolves when there is room for more. `data` must not change afterwards. */
  async write(rel: string, data: Buffer): Promise<void> {
    if (this.withSums) this.sums[rel] = { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
    this.files++;
    this.bytes += data.length;
    const abs = path.join(this.root, ...rel.split('/'));
    const dir = path.dirname(abs);
    if (!this.dirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.dirs.add(dir);
    }
    this.inFlightBytes += data.length;
    const task = writeFile(abs, data).finally(() => {
      this.inFlightBytes -= data.length;
      this.inFlight.delete(task);
    });
    this.inFlight.add(task);
    while (this.inFlight.size >= this.maxFiles || this.inFlightBytes > this.maxBytes) await Promise.race(this.inFlight);
  }

  async done(): Promise<void> {
    await Promise.all(this.inFlight);
  }
}
