/**
 * A pool of worker threads for compression, encryption and checksums, plus one thread that finds a backup's
 * cut points and hashes its large files, so both cores stay busy while the main thread reads files and packs
 * chunks. Buffers are transferred, not copied.
 */
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { APP_ROOT } from '../../../db/paths';
import { distEntry } from '../../dist.mjs';
import { codecThreadCount, takePrestarted } from '../../worker-prestart.mjs';
import { IntegrityError, type DecodeOptions, type Encoded, type EncodeOptions } from './codec';
import type { Compression } from './compression';
import type { ChunkerOptions } from '../backup/cut-finder';
import { chunkBuffers } from './chunk-buffers';
import { SpareBuffers } from './spare-buffers';
import { transferable } from './transferable';
import type { SourceItem } from '../backup/source';
import type { WalkReply, WalkSource } from '../backup/walk-tasks';
import { WalkClient, type Count } from '../backup/walk-thread';
import type { WholeFile, WrittenFiles } from '../restore/whole-file';

/**
 * A block back from the scan thread: its cuts, the digests of the files it ends and, when asked, the content
 * ids (and lengths) of the chunks that end in it; `tail`: of the last chunk, when the block ends the stream.
 */
export interface Scanned {
  data: Buffer;
  cuts: number[];
  digests: string[];
  cids: string[];
  lengths: number[];
  tail: { cid: string; length: number } | null;
}

interface Job {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

interface Slot {
  worker: Worker;
  /** Jobs posted and not answered. */
  busy: number;
  /** Jobs and walks waiting for this thread: while any does, it keeps the process alive (and only then). */
  holds: number;
  dead: Error | null;
}

function hold(slot: Slot): void {
  if (slot.holds++ === 0) slot.worker.ref();
}

function release(slot: Slot): void {
  if (--slot.holds === 0) slot.worker.unref();
}

/**
 * The pool's default size, codecThreadCount() (worker-prestart.mjs, so that bin/ starts as many): one core
 * fewer than the machine has (at least one, at most four). The main thread and the
 * scan thread need CPU too: on 2 cores, two codec threads beside them oversubscribed the machine, and one
 * did the same work in the same time or less with an isolate fewer. Measured on 2 vCPUs, in turns, two
 * against one: 1 GiB random backup 8.65-9.30 s against 8.49-9.15, memory (peak RSS + catalog server
 * private) 251-259 MiB against 244-248; chat JSON shifted after the original, caches dropped, 4.94-5.18 s
 * against 4.71-4.90; 1 GiB restore 4.13-4.40 s against 4.11-4.32, 245-266 MiB against 233-248; chat JSON
 * backup and 200,000 small files within the spread. Not measured on more cores.
 */

export class CodecPool {
  private readonly slots: Slot[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 1;
  private closing = false;
  /** The scan thread, started on the first scan (not counted in `started`). */
  private scanner: Slot | null = null;
  private nextStream = 1;
  /**
   * Buffers decode() and encode() returned (plaintext, stored objects), each with the list it goes back to
   * once given back; and those lists, whose buffers travel with the next decodes and encodes for the threads
   * to write into. A backup's list is small: every buffer it holds was one more in circulation (a thread
   * keeps a few more), where the previous build let each stored copy die after its write.
   */
  private readonly lent = new WeakMap<ArrayBufferLike, SpareBuffers>();
  private readonly spares = new SpareBuffers(16 * 1024 * 1024);
  private readonly storedSpares = new SpareBuffers(4 * 1024 * 1024);
  /** The walks running on the scan thread (walk-thread.ts), once one has started. */
  private walks: WalkClient | null = null;
  /**
   * What the threads run: the compiled worker when dist/ is current (no TypeScript loader in each thread),
   * else the source through tsx. Decided once per pool, so all its threads run the same code, and the check
   * (a stat of every source, 10-17 ms) is not made again for each thread at the start of a restore. The
   * comment stops Next's bundler from rewriting a path that must be resolved at run time.
   */
  private entry: string | null = null;

  /**
   * The threads start on the first job, not here: an engine opened for a command that codes nothing (list,
   * show, stats) must not pay for starting them (each loads the codec modules in a V8 isolate of its own).
   */
  constructor(private readonly size = codecThreadCount()) {}

  /** How many worker threads this pool has started (0 until the first job). */
  get started(): number {
    return this.slots.length;
  }

  private start(): void {
    for (let i = 0; i < this.size; i++) this.slots.push(this.startSlot());
  }

  private startSlot(): Slot {
    const entry = (this.entry ??=
      distEntry(APP_ROOT, 'codec-worker') ?? path.join(/* turbopackIgnore: true */ APP_ROOT, 'server', 'engine', 'repository', 'worker-entry.mjs'));
    // A thread bin/ started before the engine loaded (worker-prestart.mjs), else a new one. Either entry loads
    // what it needs itself; inheriting the parent's flags (profilers, -e) only hurts.
    const worker = takePrestarted(entry) ?? new Worker(entry, { execArgv: [] });
    const slot: Slot = { worker, busy: 0, holds: 0, dead: null };
    worker.on('message', (msg: { id: number; ok: boolean; name?: string; message?: string; code?: string } & Record<string, unknown>) => {
      if (typeof msg.walkTask === 'number') return this.walks?.onReply(msg as unknown as WalkReply);
      slot.busy--;
      release(slot);
      const job = this.jobs.get(msg.id);
      if (!job) return;
      this.jobs.delete(msg.id);
      if (msg.ok) job.resolve(msg);
      else if (msg.name === 'IntegrityError') job.reject(new IntegrityError(msg.message ?? ''));
      else job.reject(Object.assign(new Error(msg.message), msg.code ? { code: msg.code } : {})); // a file system's errno code survives
    });
    // A worker that dies fails what it was doing and everything after it, loudly: never a hang.
    const die = (err: Error) => {
      slot.dead ??= err;
      if (slot === this.scanner) this.walks?.fail(err);
      for (const [id, job] of this.jobs) {
        job.reject(err);
        this.jobs.delete(id);
      }
    };
    worker.on('error', die);
    worker.on('exit', (code) => {
      if (!this.closing) die(new Error(`a codec worker stopped unexpectedly (exit code ${code})`));
    });
    // After the listeners (adding a 'message' listener refs the thread again): an idle pool never keeps a
    // process alive, a job in flight always does (hold, release).
    worker.unref();
    return slot;
  }

  private run<T>(msg: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<T> {
    if (!this.slots.length && !this.closing) this.start();
    const live = this.slots.filter((s) => !s.dead);
    if (!live.length) return Promise.reject(this.slots[0]?.dead ?? new Error('the codec pool is closed'));
    return this.post(
      live.reduce((a, b) => (b.busy < a.busy ? b : a)),
      msg,
      transfer,
    );
  }

  private post<T>(slot: Slot, msg: Record<string, unknown>, transfer: ArrayBuffer[]): Promise<T> {
    const id = this.nextId++;
    slot.busy++;
    hold(slot);
    return new Promise<T>((resolve, reject) => {
      this.jobs.set(id, { resolve: resolve as (v: unknown) => void, reject });
      slot.worker.postMessage({ ...msg, id }, transfer);
    });
  }

  /**
   * Encodes a shard. `plain` is transferred to the worker and must not be used afterwards. The stored object
   * may be given back (giveBack) once nothing reads it any more.
   */
  async encode(plain: Buffer, opts: EncodeOptions): Promise<Encoded> {
    const data = transferable(plain);
    // A chunk buffer comes back with the result and returns to the free list: nothing else holds it now.
    const recycle = chunkBuffers.isOwned(data.buffer);
    const spare = this.storedSpares.takeAny();
    const r = await this.run<{ stored: Uint8Array; checksum: string; compression: Compression; plain?: Uint8Array }>(
      { op: 'encode', data, recycle, spare, opts: { ...opts, key: opts.key ? new Uint8Array(opts.key) : null } },
      spare ? [data.buffer as ArrayBuffer, spare] : [data.buffer as ArrayBuffer],
    );
    if (recycle && r.plain) {
      chunkBuffers.adopt(r.plain.buffer);
      chunkBuffers.give(r.plain.buffer);
    }
    this.lent.set(r.stored.buffer, this.storedSpares);
    return { stored: Buffer.from(r.stored.buffer, r.stored.byteOffset, r.stored.byteLength), checksum: r.checksum, compression: r.compression };
  }

  /** Keyed content id of a chunk; the buffer travels to the worker and back (transferred, not copied). */
  async contentId(plain: Buffer, levelKey: Buffer): Promise<{ cid: string; data: Buffer }> {
    const data = transferable(plain);
    const owned = chunkBuffers.isOwned(data.buffer);
    const r = await this.run<{ cid: string; data: Uint8Array }>({ op: 'hash', data, key: new Uint8Array(levelKey) }, [data.buffer as ArrayBuffer]);
    if (owned) chunkBuffers.adopt(r.data.buffer);
    return { cid: r.cid, data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength) };
  }

  /** The stored object's checksum (null when damaged). `stored` is transferred and must not be used after. */
  async checksum(stored: Buffer): Promise<string | null> {
    const data = transferable(stored);
    return (await this.run<{ checksum: string | null }>({ op: 'checksum', data }, [data.buffer as ArrayBuffer])).checksum;
  }

  /**
   * Verifies (against the expected checksum when given), decrypts and decompresses. `stored` is transferred:
   * read its length before calling.
   */
  async decode(stored: Buffer, label: string, keys: Record<string, Buffer>, opts: DecodeOptions | string = {}): Promise<Buffer> {
    const data = transferable(stored);
    const k: Record<string, Uint8Array> = {};
    for (const [id, key] of Object.entries(keys)) k[id] = new Uint8Array(key);
    const o = typeof opts === 'string' ? { expectedChecksum: opts } : opts;
    // One spare per decode: the threads take back about as many buffers as they hand out.
    const spare = this.spares.takeAny();
    const transfer = spare ? [data.buffer as ArrayBuffer, spare] : [data.buffer as ArrayBuffer];
    const r = await this.run<{ plain: Uint8Array }>({ op: 'decode', data, label, keys: k, opts: o, spare }, transfer);
    this.lent.set(r.plain.buffer, this.spares);
    return Buffer.from(r.plain.buffer, r.plain.byteOffset, r.plain.byteLength);
  }

  /**
   * Takes back a buffer decode() or encode() returned, for a later decode or encode to write into. Call it
   * only with the last reference to it, once nothing reads it any more (a restore: once every file using the
   * chunk is written; a backup: once the object is stored). Anything else is ignored.
   */
  giveBack(b: Buffer): void {
    const ab = b.buffer;
    const list = this.lent.get(ab);
    if (!list || !(ab instanceof ArrayBuffer)) return;
    this.lent.delete(ab);
    list.put(ab);
  }

  /** Bytes given back and not yet sent to a thread. */
  get spareBytes(): number {
    return this.spares.bytesHeld + this.storedSpares.bytesHeld;
  }

  /**
   * Finds a stream's cut points (and hashes the files in it) on a thread of its own, which keeps each stream's
   * state between blocks and answers in order: the main thread reads and packs chunks meanwhile. `data` is
   * transferred and comes back with the answer.
   */
  async scan(stream: number, data: Buffer, opts: ChunkerOptions, reset: boolean, files: number[], ids?: { key: Buffer; final: boolean }): Promise<Scanned> {
    const slot = this.scanSlot();
    const block = transferable(data);
    const owned = chunkBuffers.isOwned(block.buffer);
    const req = { op: 'scan', stream, data: block, opts, reset, files, ...(ids ? { ids: { key: new Uint8Array(ids.key), final: ids.final } } : {}) };
    const r = await this.post<Omit<Scanned, 'data'> & { data: Uint8Array }>(slot, req, [block.buffer as ArrayBuffer]);
    if (owned) chunkBuffers.adopt(r.data.buffer);
    return { data: Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength), cuts: r.cuts, digests: r.digests, cids: r.cids, lengths: r.lengths, tail: r.tail };
  }

  /**
   * Writes whole small files of a restore on the scan thread (whole-file.ts), which a restore does not
   * otherwise use. Their bytes are transferred and come back (`buffers`, for the next files); a file not
   * written because something is at its path has them in its result.
   */
  writeFiles(files: WholeFile[]): Promise<WrittenFiles> {
    const transfer = [...new Set(files.flatMap((f) => f.pieces.map((p) => p.buffer as ArrayBuffer)))]; // a batch's files share a slab
    return this.post<WrittenFiles>(this.scanSlot(), { op: 'write-files', files }, transfer);
  }

  /** A new stream id for scan(); endScan() drops the stream's state on the thread. */
  newScanStream(): number {
    return this.nextStream++;
  }

  /** Not awaited by anyone: it never fails, and a closed pool has no state left to drop. */
  endScan(stream: number): void {
    if (this.scanner && !this.scanner.dead && !this.closing) this.post(this.scanner, { op: 'scan-close', stream }, []).catch(() => undefined);
  }

  /**
   * The items of walkSources(sources, onSkip, { xattrs: false }), walked on the scan thread ahead of the
   * caller (walk-thread.ts).
   */
  walk(sources: WalkSource[], onSkip: (abs: string, why: string) => void): AsyncGenerator<SourceItem> {
    return this.walkClient().walk(sources, onSkip);
  }

  /** The items of walk(), in the batches the scan thread sent them (never empty). */
  walkBatches(sources: WalkSource[], onSkip: (abs: string, why: string) => void): AsyncGenerator<SourceItem[]> {
    return this.walkClient().walkBatches(sources, onSkip);
  }

  /** Files and bytes under the sources, counted on the scan thread; `onTotals` gets the totals so far. */
  count(sources: WalkSource[], onTotals: (files: number, bytes: number) => void): Count {
    return this.walkClient().count(sources, onTotals);
  }

  /**
   * Starts the codec threads and the scan thread now, those not running: a backup of sources walks on the scan
   * thread and reads its base's manifest through the codec threads, and each thread loads (~0.1 s of a core)
   * while the backup is being prepared instead of when it is first needed.
   */
  startThreads(): void {
    if (this.closing) return;
    this.startCodecThreads();
    this.scanSlot();
  }

  /** Starts the codec threads now, if not running: a restore decodes on them, and they load while it prepares. */
  startCodecThreads(): void {
    if (!this.closing && !this.slots.length) this.start();
  }

  private walkClient(): WalkClient {
    const slot = this.scanSlot();
    this.walks ??= new WalkClient({ post: (req) => slot.worker.postMessage(req), ref: () => hold(slot), unref: () => release(slot) });
    return this.walks;
  }

  private scanSlot(): Slot {
    if (this.closing) throw new Error('the codec pool is closed');
    this.scanner ??= this.startSlot();
    if (this.scanner.dead) throw this.scanner.dead;
    return this.scanner;
  }

  async close(): Promise<void> {
    this.closing = true;
    // Terminated threads never answer: a walk waiting for one fails instead of hanging. (Its consumer always
    // awaits it; a codec job may be a prefetch nobody awaits yet, whose rejection would go unhandled.)
    this.walks?.fail(new Error('the codec pool is closed'));
    await Promise.all([...this.slots, ...(this.scanner ? [this.scanner] : [])].map((s) => s.worker.terminate()));
  }
}
