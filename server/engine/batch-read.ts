/**
 * Files read in batches on libuv's thread pool through the project's addon `native/readfiles`: one trip to
 * the pool opens, reads and closes up to BATCH_FILES files, and tells which have user.* attributes. Node's
 * fs makes three trips per file (readFile five or more: open, fstat, a read per 512 KiB, close), and each
 * costs the main thread a wake-up (~30 µs on a 2-vCPU virtual machine), so reading 5,000 small files cost it
 * ~0.5 s; a batch costs it one call and one callback. Two readers: a backup's small files (`batchReader()`,
 * small-files.ts), and the shards a restore reads from a local location (`storedObjectReader()`, storage/
 * local.ts, which knows each one's size from the catalog). The small-file reader also has each file's
 * SHA-256 taken by the pool thread that read it (contentDigest()): the manifest's `sha`, off the main thread,
 * which a backup of many small files keeps busy. Where the addon was not built
 * (scripts/build-native.mjs says so at install) both are null and the callers read with Node's fs.
 */
import { getSystemErrorMap } from 'node:util';
import { loadAddon } from './native-addon';
import { chunkBuffers } from './repository/chunk-buffers';

export interface ReadFiles {
  /**
   * results: per file, bytes read (or -errno), then 1 if it may have user.* attributes, else 0 (for a failure:
   * 2 the open failed, 1 the read). With `digests` (32 bytes a file) and the addon's `digests` true, the
   * SHA-256 of each file that ended within its buffer is written there, on the pool thread that read it.
   */
  read(paths: string[], buffers: Buffer[], done: (results: Int32Array) => void, digests?: Buffer): void;
  /** Whether read() can hash (the running Node exports OpenSSL's SHA256); absent in older builds of the addon. */
  digests?: boolean;
}

/** Files per trip to the pool: a read-ahead of 64 files keeps 8 trips (so 8 disk reads) under way. */
const BATCH_FILES = 8;
/**
 * Bytes per trip for stored objects (shards of ~1 MiB): a batch answers when its last file is read, and a
 * restore's first decode should not wait for eight shards.
 */
const OBJECT_BATCH_BYTES = 2 * 1024 * 1024;

/**
 * What the pool thread says of one file. n: bytes read or -errno; flag: whether it may have user.* attributes
 * (0 or 1), or for a failure the call that failed (2 open, 1 read); digest: its SHA-256, when taken.
 */
interface Read {
  n: number;
  flag: number;
  digest?: Buffer;
}

interface Wanted {
  file: string;
  buffer: Buffer;
  resolve: (r: Read) => void;
  reject: (err: unknown) => void;
}

/**
 * Reads files into buffers in batches: a batch leaves when it holds `maxFiles` files or `maxBytes` bytes, or
 * once the current turn of the event loop ends.
 */
export class BatchReader {
  private batch: Wanted[] = [];
  private batchBytes = 0;
  private scheduled = false;

  private readonly hashes: boolean;

  constructor(
    private readonly addon: ReadFiles,
    private readonly maxFiles = BATCH_FILES,
    private readonly maxBytes = Infinity,
    /** Whether to have each file's SHA-256 taken on the pool thread that reads it (contentDigest()). */
    hashes = false,
  ) {
    this.hashes = hashes && addon.digests === true;
  }

  /**
   * The bytes of `file`, as many as fit in a buffer of `size + 1` (one more than the walk saw, so a full
   * buffer means the file grew and is read again whole by `more`); rejects as fs would (code ENOENT, …).
   */
  read(file: string, size: number, more: (file: string, size: number) => Promise<Buffer>): Promise<Buffer> {
    const buffer = chunkBuffers.take(size + 1);
    const got = new Promise<Read>((resolve, reject) => this.batch.push({ file, buffer, resolve, reject }));
    this.batchBytes += size;
    if (this.batch.length >= this.maxFiles || this.batchBytes >= this.maxBytes) this.send();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.send());
    }
    return got.then(
      ({ n, flag, digest }) => {
        if (n < 0) {
          chunkBuffers.give(buffer.buffer);
          throw systemError(n, file, flag === 2 ? 'open' : 'read');
        }
        if (n <= size) {
          const data = buffer.subarray(0, n);
          if (flag === 0) noUserXattrs.add(data);
          // n < the buffer's length: the file ended within it, so the pool thread hashed it.
          if (digest) digests.set(data, digest.toString('hex'));
          return data;
        }
        chunkBuffers.give(buffer.buffer); // it grew since the walk: read it again, whole
        return more(file, size);
      },
      (err: unknown) => {
        chunkBuffers.give(buffer.buffer);
        throw err;
      },
    );
  }

  private send(): void {
    this.scheduled = false;
    const batch = this.batch;
    if (!batch.length) return;
    this.batch = [];
    this.batchBytes = 0;
    const hashed = this.hashes ? Buffer.allocUnsafe(32 * batch.length) : undefined;
    try {
      this.addon.read(
        batch.map((w) => w.file),
        batch.map((w) => w.buffer),
        (results) => batch.forEach((w, i) => w.resolve({ n: results[2 * i]!, flag: results[2 * i + 1]!, digest: hashed?.subarray(32 * i, 32 * i + 32) })),
        ...(hashed ? [hashed] : []),
      );
    } catch (err) {
      // Refused before any read (a path with a NUL byte): every file of the batch fails with it.
      for (const w of batch) w.reject(err);
    }
  }
}

/** The contents read by a batch whose file listed no user.* attribute (on the descriptor that read them). */
const noUserXattrs = new WeakSet<Buffer>();
/** The SHA-256 (hex) of contents a batch read, taken by the pool thread that read them. */
const digests = new WeakMap<Buffer, string>();

/**
 * The SHA-256 (hex) of `data` exactly as a batch read returned it (a backup's small file), taken on the pool
 * thread right after the read; undefined for any other buffer (the caller hashes it then).
 */
export function contentDigest(data: Buffer): string | undefined {
  return digests.get(data);
}

/**
 * Whether `data` (as a batch read returned it) comes from a file without user.* extended attributes, so the
 * backup need not list them again on the main thread (~15 µs a file there; ~3 s of a 200,000-file backup).
 */
export function withoutUserXattrs(data: Buffer): boolean {
  return noUserXattrs.has(data);
}

const errorMap = getSystemErrorMap();

/** An Error as fs gives it for a failed open or read of `file` (code, errno, syscall, path). */
export function systemError(errno: number, file: string, syscall: 'open' | 'read' | 'lstat'): NodeJS.ErrnoException {
  const [code, text] = errorMap.get(errno) ?? ['EIO', 'i/o error'];
  return Object.assign(new Error(`${code}: ${text}, ${syscall} '${file}'`), { code, errno, syscall, path: file });
}

let addon: ReadFiles | null | undefined;
let reader: BatchReader | null | undefined;
let objectReader: BatchReader | null | undefined;

/** The addon, unless it was not built (or PLEXICHAT_BATCH_READ=0 turns it off). */
function readFiles(): ReadFiles | null {
  if (addon === undefined) addon = process.env.PLEXICHAT_BATCH_READ === '0' ? null : loadAddon<ReadFiles>('readfiles');
  return addon;
}

/** The process's batch reader of a backup's small files; null where native/readfiles was not built (or PLEXICHAT_BATCH_READ=0). */
export function batchReader(): BatchReader | null {
  if (reader === undefined) {
    const a = readFiles();
    reader = a && new BatchReader(a, BATCH_FILES, Infinity, true);
  }
  return reader;
}

/** The process's batch reader of stored objects (at most OBJECT_BATCH_BYTES a trip); null as batchReader(). */
export function storedObjectReader(): BatchReader | null {
  if (objectReader === undefined) {
    const a = readFiles();
    objectReader = a && new BatchReader(a, BATCH_FILES, OBJECT_BATCH_BYTES);
  }
  return objectReader;
}
