import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, readdir, rename, rm, stat, statfs, unlink } from 'node:fs/promises';
import path from 'node:path';
import { storedObjectReader } from '../batch-read';
import { StorageError, type ObjectInfo, type StorageBackend, type StorageUsage, sumListing } from './backend';

export const TMP_DIR = '.tmp';
/** The largest size hint read into a buffer of that size (shards are at most 20 MiB of plaintext). */
const MAX_HINTED_READ = 64 * 1024 * 1024;

/** Listing: stat calls in flight at once, and files stat'ed before any of them is yielded. */
const STAT_PARALLEL = 48;
const STAT_BATCH = 1024;

/** The sizes of `paths`, in order, with up to STAT_PARALLEL stat calls in flight. */
async function statAll(paths: string[]): Promise<number[]> {
  const sizes = new Array<number>(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      sizes[i] = (await stat(paths[i]!)).size;
    }
  };
  await Promise.all(Array.from({ length: Math.min(STAT_PARALLEL, paths.length) }, worker));
  return sizes;
}

/** The file-system calls a write makes: a seam, so a test can see what is fsynced and in which order. */
export interface LocalFs {
  open: typeof open;
  rename: typeof rename;
  mkdir: typeof mkdir;
}
const NODE_FS: LocalFs = { open, rename, mkdir };

/**
 * A location on a local (or mounted) file system. A write goes to a temp file, which is fsynced, renamed
 * into place, and then its directory is fsynced: without that last step the rename (the object's name) can
 * be lost in a power cut although its bytes were synced. A new directory is made durable the same way, by
 * fsyncing its parent. This is what restic's local backend does.
 */
export class LocalBackend implements StorageBackend {
  readonly type = 'local';
  /** Directories known to exist: a mkdir per object costs a round trip on the hot path. */
  private readonly dirs = new Set<string>();

  constructor(
    readonly name: string,
    private readonly root: string,
    private readonly fs: LocalFs = NODE_FS,
    /** append_only: delete refuses (kind 'locked', no date); only purge, run by storage gc --append-only-delete, deletes. */
    private readonly appendOnly = false,
  ) {}

  /**
   * Creates the root (one level at a time) and its temp directory. Not `mkdir -p`: Node's recursive mkdir
   * never returns on some pseudo file systems (a path under /proc spins a thread-pool thread for good),
   * while a plain mkdir there fails at once.
   */
  async init(): Promise<void> {
    try {
      const missing: string[] = [];
      for (let d = this.root; ; d = path.dirname(d)) {
        const st = await stat(d).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT') return null;
          throw err;
        });
        if (st) {
          if (!st.isDirectory()) throw Object.assign(new Error(`${d} is not a directory`), { code: 'ENOTDIR' });
          break;
        }
        missing.push(d);
        if (path.dirname(d) === d) break;
      }
      for (const d of [...missing.reverse(), path.join(this.root, TMP_DIR)]) {
        await mkdir(d).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'EEXIST') throw err;
        });
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw this.wrap(err, undefined, `create ${this.root}`);
      throw new StorageError('permanent', this.name, `cannot create ${this.root}: ${code ?? (err as Error).message}; choose a writable directory on a real file system (not under /proc or /sys)`, { cause: err });
    }
  }

  /** Free and total bytes of the file system holding the location (statfs), for usage % and placement. */
  async space(): Promise<{ freeBytes: number; totalBytes: number }> {
    try {
      const s = await statfs(this.root);
      // bavail: what an unprivileged writer may still use (the root-reserved blocks excluded).
      return { freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize };
    } catch (err) {
      throw this.wrap(err, undefined, 'read the free space of');
    }
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
        await this.makeDir(dir);
        this.dirs.add(dir);
      }
      const fh = await this.fs.open(tmp, 'w', 0o600);
      try {
        await fh.writeFile(data);
        await fh.datasync();
      } finally {
        await fh.close();
      }
      await this.fs.rename(tmp, final);
      await this.syncDir(dir);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw this.wrap(err, key, 'write');
    }
  }

  /** Creates `dir` (and missing parents), then fsyncs the parent of each directory it created. */
  private async makeDir(dir: string): Promise<void> {
    const first = await this.fs.mkdir(dir, { recursive: true });
    if (first === undefined) return; // it existed already
    for (let d = dir; ; d = path.dirname(d)) {
      await this.syncDir(path.dirname(d));
      if (d === first || path.dirname(d) === d) break;
    }
  }

  /** fsync of a directory, so the names in it survive a power cut. */
  private async syncDir(dir: string): Promise<void> {
    const fh = await this.fs.open(dir, 'r');
    try {
      await fh.sync();
    } catch (err) {
      // A few file systems cannot fsync a directory (they sync names with the data, or not at all).
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw err;
    } finally {
      await fh.close();
    }
  }

  async get(key: string, sizeHint?: number): Promise<Buffer> {
    try {
      const file = this.pathOf(key);
      // With the size the catalog expects, in a batch through the addon (one trip to the thread pool for a
      // few objects instead of five or more each); an object larger than said is read again whole. A size
      // no shard has (a damaged catalog) is not allocated: the object is read as it is.
      const hinted = sizeHint !== undefined && Number.isSafeInteger(sizeHint) && sizeHint >= 0 && sizeHint <= MAX_HINTED_READ;
      const batch = hinted ? storedObjectReader() : null;
      return await (batch ? batch.read(file, sizeHint!, (f) => readFile(f)) : readFile(file));
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

  /**
   * Depth-first, in readdir order (as before). A directory's files are stat'ed in parallel, up to
   * STAT_PARALLEL at a time (one at a time, 100,000 files took ~25 s from a cold cache), and yielded in order.
   */
  private async *walk(dir: string, keyPrefix: string): AsyncIterable<ObjectInfo> {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw this.wrap(err, keyPrefix, 'list');
    }
    let files: { key: string; full: string }[] = [];
    const flush = async function* (): AsyncIterable<ObjectInfo> {
      const sizes = await statAll(files.map((f) => f.full));
      for (let i = 0; i < files.length; i++) yield { key: files[i]!.key, size: sizes[i]! };
      files = [];
    };
    for (const e of entries) {
      if (!keyPrefix && e.name === TMP_DIR) continue;
      const key = keyPrefix ? `${keyPrefix}/${e.name}` : e.name;
      const full = path.join(dir, e.name);
      if (e.isDirectory()) {
        yield* flush();
        yield* this.walk(full, key);
      } else if (e.isFile()) {
        files.push({ key, full });
        if (files.length >= STAT_BATCH) yield* flush();
      }
    }
    yield* flush();
  }

  async delete(key: string): Promise<void> {
    if (this.appendOnly) {
      throw new StorageError('locked', this.name, `${key} is on an append-only location: the backup process never deletes there; an admin's plexichat-backup storage gc --append-only-delete removes it`, { key, lockedUntil: null });
    }
    return this.purge(key);
  }

  /** Deletes even on an append-only location: only storage gc --append-only-delete calls it (object-locks.ts). */
  async purge(key: string): Promise<void> {
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
