import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, type ObjectInfo, type StorageBackend, type StorageUsage, sumListing } from './backend';

export const TMP_DIR = '.tmp';

/** A location on a local (or mounted) file system. Writes go to a temp file, are fsynced, then renamed. */
export class LocalBackend implements StorageBackend {
  readonly type = 'local';
  /** Directories known to exist: a mkdir per object costs a round trip on the hot path. */
  private readonly dirs = new Set<string>();

  constructor(
    readonly name: string,
    private readonly root: string,
  ) {}

  async init(): Promise<void> {
    await mkdir(path.join(this.root, TMP_DIR), { recursive: true });
  }

  private pathOf(key: string): string {
    if (key === '' || key.startsWith('/') || key.split('/').some((p) => p === '..' || p === '.' || p === '')) {
      throw new StorageError('permanent', this.name, `invalid object key "${key}"`, { key });
    }
    return path.join(this.root, ...key.split('/'));
  }

  async put(key: string, data: Buffer): Promise<void> {
    const final = this.pathOf(key);
    const tmp = path.join(this.root, TMP_DIR, `${randomBytes(8).toString('hex')}.tmp`);
    try {
      const dir = path.dirname(final);
      if (!this.dirs.has(dir)) {
        await mkdir(dir, { recursive: true });
        this.dirs.add(dir);
      }
      const fh = await open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(data);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, final);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw this.wrap(err, key, 'write');
    }
  }

  async get(key: string): Promise<Buffer> {
    try {
      return await readFile(this.pathOf(key));
    } catch (err) {
      throw this.wrap(err, key, 'read');
    }
  }

  async stat(key: string): Promise<ObjectInfo | null> {
    try {
      const st = await stat(this.pathOf(key));
      return { key, size: st.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw this.wrap(err, key, 'stat');
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Walk only the directory that can hold the prefix, then filter by the full key.
    const slash = prefix.lastIndexOf('/');
    const dirKey = slash >= 0 ? prefix.slice(0, slash) : '';
    const start = dirKey ? path.join(this.root, ...dirKey.split('/')) : this.root;
    for await (const info of this.walk(start, dirKey)) {
      if (info.key.startsWith(prefix)) yield info;
    }
  }

  private async *walk(dir: string, keyPrefix: string): AsyncIterable<ObjectInfo> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw this.wrap(err, keyPrefix, 'list');
    }
    for (const e of entries) {
      if (!keyPrefix && e.name === TMP_DIR) continue;
      const key = keyPrefix ? `${keyPrefix}/${e.name}` : e.name;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) yield* this.walk(full, key);
      else if (e.isFile()) yield { key, size: (await stat(full)).size };
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(this.pathOf(key), { force: true });
    } catch (err) {
      throw this.wrap(err, key, 'delete');
    }
  }

  usage(): Promise<StorageUsage> {
    return sumListing(this.list(''));
  }

  async ping(): Promise<void> {
    try {
      await stat(this.root);
    } catch (err) {
      throw this.wrap(err, undefined, 'reach');
    }
  }

  async close(): Promise<void> {}

  private wrap(err: unknown, key: string | undefined, op: string): StorageError {
    if (err instanceof StorageError) return err;
    const code = (err as NodeJS.ErrnoException).code;
    const where = key ? ` ${key}` : '';
    if (code === 'ENOENT') return new StorageError('not_found', this.name, `object${where} not found`, { key, cause: err });
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return new StorageError('permanent', this.name, `cannot ${op}${where}: permission denied (${code}); check the location's path and permissions`, { key, cause: err });
    }
    return new StorageError('unavailable', this.name, `cannot ${op}${where}: ${(err as Error).message}`, { key, cause: err });
  }
}
