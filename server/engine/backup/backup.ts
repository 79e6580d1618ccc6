/**
 * The backup pipeline: walk → one data stream (files concatenated in walk order, so small files pack into
 * shards of about shard_size) → ChunkSink → shards; manifest entries record each file's extents into the
 * chunk table. The manifest (entries, then chunk table) is chunked and stored as shards too, and a small
 * snapshot object ties everything together. Nothing here marks the backup completed: the caller does, after
 * this returns, in the catalog.
 */
import crypto, { createHash } from 'node:crypto';
import fs from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import type { Cipher } from '../repository/codec';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import { contentIdKey } from '../keys/keys';
import { checkPayloadName, type Extent, type ManifestEntry, manifestLine, splitNs } from '../repository/manifest';
import { chunkBuffers } from '../repository/chunk-buffers';
import { ChunkSink, ShardWriter, type SinkStats } from './chunk-sink';
import { BaseJoin, READ_ON } from './base-join';
import { ChangeTracker, type ChangeSummary } from './change-summary';
import { EntropySampler } from './entropy';
import type { ProgressTracker } from './progress';
import { racilyClean, sameFile } from './same-file';
import { readAhead, SMALL_FILE } from './small-files';
import { contentDigest, withoutUserXattrs } from '../batch-read';
import { walkOrder } from './walk-order';
import { readXattrs, type SourceItem } from './source';

const READ_SIZE = 1024 * 1024;

/** SHA-256 in hex in one call: crypto.hash (Node 20.12 and 21.7 on) makes no Hash object. */
const sha256Hex: (b: Buffer) => string = typeof crypto.hash === 'function' ? (b) => crypto.hash('sha256', b, 'hex') : (b) => createHash('sha256').update(b).digest('hex');
const IDS_PER_LINE = 1000;

export interface BackupInput {
  sources?: { abs: string; rel: string }[];
  payload?: { name: string; data: Buffer };
  /** incremental/differential: files unchanged since this backup are referenced, not read. */
  base?: BaseIndex;
  /** Without a base: the previous backup of the same sources, only to compare files with (ransomware signals). */
  previous?: BaseIndex;
  /** snapshot: files that change while read are re-read (small) or reported (large). */
  detectChanges?: boolean;
  /** Record atimes in the manifest (see CreateBackupOptions.recordAtime). */
  recordAtime?: boolean;
}

export interface BaseIndex {
  backupId: string;
  /** Entries changed at or after this instant (ns) are racily clean: read again (same-file.ts racilyClean). */
  racyFrom: bigint;
  /** The base's manifest entries in manifest order, in batches, each call a new read from the start. */
  entries: () => AsyncIterator<ManifestEntry[]>;
  /** The base's file count and bytes, as its catalog row has them (progress estimates). */
  files: number;
  bytes: number;
  chunkIds: string[];
}

export interface BackupOutcome {
  filesReused: number;
  changedWhileRead: string[];
  originalSize: number;
  fileCount: number;
  shardCount: number;
  stats: SinkStats;
  filesShards: string[];
  chunksShards: string[];
  skipped: string[];
  /** What changed against the base (or previous) backup; null when there was none to compare with. */
  changes: ChangeSummary | null;
}

interface Pending {
  entry: ManifestEntry;
  start: number;
  end: number; // Infinity while the file is still being read
  /** A large file's SHA-256, taken on the scan thread. */
  sha?: Promise<string>;
}

export async function writeBackupData(
  ctx: EngineContext,
  backupId: string,
  level: string,
  dataKey: { id: string; key: Buffer | null },
  cipher: Cipher,
  input: BackupInput,
  progress: ProgressTracker,
  signal?: AbortSignal,
): Promise<BackupOutcome> {
  const skipped: string[] = [];
  const onSkip = (abs: string, why: string) => {
    skipped.push(abs);
    ctx.log(`skipped ${abs}: ${why}`);
  };

  // Totals for progress and ETA come from a stat-only walk running alongside the backup. An incremental
  // backup, whose cost is the walk itself, estimates them from its base instead of walking twice.
  if (input.base) {
    progress.filesTotal += input.base.files;
    progress.bytesTotal += input.base.bytes;
  }
  // Counted on the scan thread, beside the walk that backs up (walk-thread.ts).
  const scan = input.sources && !input.base
    ? ctx.pool.count(input.sources, (files, bytes) => {
        progress.filesTotal = files;
        progress.bytesTotal = bytes;
      })
    : null;
  if (input.payload) {
    progress.filesTotal = 1;
    progress.bytesTotal = input.payload.data.length;
  }
  progress.phase = 'backing_up';

  const writer = new ShardWriter(ctx, backupId, level, contentIdKey(ctx.idKey, level as never), dataKey.id, dataKey.key, cipher);
  const referenced = new Set<string>();
  writer.onShard = (s) => {
    progress.shardsDone++;
    referenced.add(s.id);
  };
  const mode = ctx.config.chunking;
  const size = { avgSize: ctx.config.shard_size, minSize: ctx.config.min_shard_size, maxSize: ctx.config.max_shard_size };
  const filesSink = new ChunkSink(writer, 'manifest', 'cdc', size);
  const chunksSink = new ChunkSink(writer, 'manifest', 'cdc', size);

  const pending: Pending[] = [];
  const boundaries: [index: number, start: number, end: number][] = [];
  let lastEmittedEnd = 0;
  const dataSink = new ChunkSink(writer, 'data', mode, size, (index, start, end) => boundaries.push([index, start, end]), ctx.pool);
  let join: BaseJoin | null = null;
  try {

    // Manifest lines are gathered into blocks of ~64 KiB before they enter the manifest's chunker. Here and
    // in cut() and reuse(), a promise only when there is something to wait for: an unchanged re-backup of
    // 200,000 files makes each call per file, and every async call allocates its promise and reactions.
    let lines = '';
    const writeLine = (entry: ManifestEntry): Promise<void> | undefined => {
      lines += `${manifestLine(entry)}\n`;
      if (lines.length < 65536) return undefined;
      const block = lines;
      lines = '';
      return filesSink.write(Buffer.from(block));
    };

    const flushReady = async () => {
      for (const [index, a, b] of boundaries) {
        for (const p of pending) {
          if (p.start >= b) break;
          const from = Math.max(p.start, a);
          const to = Math.min(p.end, b);
          if (to > from) (p.entry.x ??= []).push([index, from - a, to - from] as Extent);
        }
        lastEmittedEnd = b;
      }
      boundaries.length = 0;
      while (pending.length && pending[0]!.end <= lastEmittedEnd) {
        const p = pending.shift()!;
        // Its last bytes are cut into a chunk, so they were scanned and the hash has come back with them.
        if (p.sha) p.entry.sha = await p.sha;
        await writeLine(p.entry);
      }
    };

    // Each walked file meets its base (or previous) version by reading that backup's manifest alongside the walk.
    const compared = input.base ?? input.previous;
    const tracker = compared && input.sources ? new ChangeTracker(compared.backupId) : null;
    join = compared && input.sources ? new BaseJoin(compared.entries(), walkOrder(input.sources.map((s) => s.rel)), (f, matched) => tracker!.previous(f, matched), compared === input.previous) : null;
    const before = new WeakMap<SourceItem, ManifestEntry>();
    const sameAsBefore = (it: SourceItem) => {
      const b = before.get(it);
      return Boolean(b && sameFile(it, b));
    };

    let stream = 0;
    let original = 0;
    let files = 0;
    const fileSampler = new EntropySampler(0);
    const addEntry = async (entry: ManifestEntry, data: Buffer | AsyncIterable<Uint8Array> | FileToRead | null) => {
      const p: Pending = { entry, start: stream, end: data ? Infinity : stream };
      pending.push(p);
      if (data) {
        let n = 0;
        // The content hash is taken from the same blocks the chunker gets (no second read of the file): a large
        // file's on the scan thread, with the cut points; a small one's here (a round trip would cost more).
        const offThread = entry.t === 'f' && (entry.s ?? 0) > SMALL_FILE;
        // A file read whole (a small one) is hashed in one call: no Hash object, no async generator per file.
        const whole = Buffer.isBuffer(data) ? data : null;
        const sha = entry.t === 'f' && !offThread && !whole ? createHash('sha256') : null;
        const sampler = entry.t === 'f' ? fileSampler.reset(entry.s ?? 0) : null;
        const counted = (block: Uint8Array) => {
          sha?.update(block);
          sampler?.feed(block);
          n += block.length;
          stream += block.length;
          progress.bytesDone += block.length;
        };
        const feed = async (block: Uint8Array) => {
          counted(block);
          await dataSink.write(block, offThread);
          await flushReady();
        };
        if (whole) for (let i = 0; i < whole.length; i += READ_SIZE) await feed(whole.subarray(i, i + READ_SIZE));
        else if (isFileToRead(data)) {
          // A large file is read straight into the scan stage's blocks: no buffer per file, no copy.
          const fh = await open(data.path, 'r');
          try {
            for (;;) {
              const room = dataSink.room();
              const { bytesRead } = await fh.read(room, 0, room.length, null);
              if (bytesRead === 0) break;
              counted(room.subarray(0, bytesRead));
              await dataSink.commit(bytesRead, offThread);
              await flushReady();
            }
          } finally {
            await fh.close();
          }
        } else for await (const block of data as AsyncIterable<Uint8Array>) await feed(block);
        if (offThread) p.sha = (await dataSink.endFile()).digest;
        entry.s = n;
        if (sha) entry.sha = sha.digest('hex');
        else if (whole && entry.t === 'f' && !offThread) entry.sha = contentDigest(whole) ?? sha256Hex(whole);
        const en = sampler?.result();
        if (en != null) entry.en = en;
        p.end = stream;
        original += n;
      }
      if (entry.t === 'f') {
        files++;
        progress.filesDone++;
      }
      await flushReady();
    };

    /** Cuts the data stream, so every pending entry gets its complete extents and is written out. */
    const cut = (): Promise<void> | undefined => (pending.length || dataSink.buffered ? cutNow() : undefined);
    const cutNow = async () => {
      await dataSink.end();
      await flushReady();
    };

    // Hard links: the first path of an inode (same dev+ino) is read; later paths are written with its extents
    // and `h` naming it, so the data is stored once and a restore can link them (or write a copy of a link
    // whose first path it does not restore).
    const firstLinks = new Map<string, ManifestEntry>();
    const hardLink = async (entry: ManifestEntry, first: ManifestEntry) => {
      await cut();
      entry.h = first.p;
      entry.s = first.s ?? 0;
      if (first.x) entry.x = first.x.map(([k, off, len]) => [k, off, len] as Extent);
      if (first.sha) entry.sha = first.sha;
      if (first.en !== undefined) entry.en = first.en;
      files++;
      progress.filesDone++;
      progress.bytesDone += entry.s;
      await writeLine(entry);
    };

    // Incremental/differential: a file whose size, mtime, ctime, inode and mode match the base backup is not
    // read; its extents point at the base's shards. The data stream is cut first so chunk order stays monotonic.
    let filesReused = 0;
    let lastReuse: { baseIndex: number; newIndex: number; tableLen: number } | null = null;
    const reuse = (entry: ManifestEntry, baseEntry: ManifestEntry, base: BaseIndex): Promise<void> | undefined => {
      const cutting = cut();
      return cutting ? cutting.then(() => reuseCut(entry, baseEntry, base)) : reuseCut(entry, baseEntry, base);
    };
    const reuseCut = (entry: ManifestEntry, baseEntry: ManifestEntry, base: BaseIndex): Promise<void> | undefined => {
      const x: Extent[] = [];
      for (const [k, off, len] of baseEntry.x ?? []) {
        const shardId = base.chunkIds[k];
        if (!shardId) throw new EngineError('INTEGRITY', `The manifest of base backup ${base.backupId} is damaged (chunk ${k} missing); make a full backup.`);
        let idx: number;
        if (lastReuse && lastReuse.baseIndex === k && lastReuse.tableLen === dataSink.table.length) idx = lastReuse.newIndex;
        else {
          idx = dataSink.appendExisting(writer.reference(shardId));
          lastReuse = { baseIndex: k, newIndex: idx, tableLen: dataSink.table.length };
        }
        x.push([idx, off, len]);
      }
      if (x.length) entry.x = x;
      entry.s = baseEntry.s ?? 0;
      if (baseEntry.sha) entry.sha = baseEntry.sha;
      if (baseEntry.en !== undefined) entry.en = baseEntry.en;
      original += entry.s;
      progress.bytesDone += entry.s;
      files++;
      filesReused++;
      progress.filesDone++;
      return writeLine(entry);
    };
    const unchanged = (it: SourceItem): ManifestEntry | null => {
      const b = input.base && before.get(it);
      return b && sameFile(it, b) && !racilyClean(b, input.base!.racyFrom) ? b : null;
    };
    const changedWhileRead: string[] = [];

    if (input.payload) {
      const { name, data } = input.payload;
      const now = ctx.now().getTime();
      await addEntry({ p: checkPayloadName(name), t: 'f', m: 0o600, mt: now, mtn: 0, s: data.length }, data);
    } else if (input.sources) {
      // The walk does not read extended attributes: an unchanged file takes its base entry's (below), so an
      // unchanged re-backup makes no xattr calls for its files; every other item reads them here.
      const walked = ctx.pool.walkBatches(input.sources, onSkip);
      const joined = join ? matchBase(walked, join, before) : walked;
      for await (const { it, content } of readAhead(joined, (x) => !unchanged(x))) {
        if (signal?.aborted) throw new EngineError('CONFLICT', `Backup ${backupId} was cancelled.`);
        try {
          const baseEntry = unchanged(it);
          // Setting or removing an attribute changes the ctime, which the change rule compared when recorded.
          const sameXattrs = baseEntry?.ct !== undefined;
          // A small file read in a batch comes back saying whether it has user.* attributes (batch-read.ts):
          // its attributes are listed here only if it may have some, once its content is in.
          const xattrsLater = !sameXattrs && content !== null;
          if (!sameXattrs && !xattrsLater && it.type !== 'l') it.xattrs = readXattrs(it.abs);
          const entry = toEntry(it, input.recordAtime ?? false);
          if (sameXattrs && baseEntry.xa) entry.xa = { ...baseEntry.xa };
          const first = it.linkKey ? firstLinks.get(it.linkKey) : undefined;
          if (first) {
            if (xattrsLater) setXattrs(entry, readXattrs(it.abs));
            await hardLink(entry, first);
            tracker?.file(entry, sameAsBefore(it), before.get(it));
            continue;
          }
          if (it.linkKey) firstLinks.set(it.linkKey, entry);
          if (baseEntry) {
            const reusing = reuse(entry, baseEntry, input.base!);
            if (reusing) await reusing;
            tracker?.file(entry, true, baseEntry);
            continue;
          }
          // Synchronous, as the walk's lstat: microseconds, where a trip through the thread pool waited ~50 µs per link.
          if (it.type === 'l') entry.l = fs.readlinkSync(it.abs);
          let data = it.type !== 'f' ? null : content ? await content : it.size > SMALL_FILE && dataSink.hashesFiles ? { path: it.abs } : readFileBlocks(it.abs);
          if (xattrsLater && !(Buffer.isBuffer(data) && withoutUserXattrs(data))) setXattrs(entry, readXattrs(it.abs));
          if (input.detectChanges && content) {
            const stable = await readStable(it, content);
            data = stable.data;
            entry.s = stable.data.length;
            [entry.mt, entry.mtn] = splitNs(it.mtimeNs);
            if (stable.changed) changedWhileRead.push(it.rel);
          }
          await addEntry(entry, data);
          // A small file's bytes are copied into the data stream by now: their chunk buffer takes the next file.
          if (Buffer.isBuffer(data)) chunkBuffers.give(data.buffer);
          if (it.type === 'f') tracker?.file(entry, sameAsBefore(it), before.get(it));
          if (input.detectChanges && it.type === 'f' && !content) {
            const after = await stat(it.abs, { bigint: true });
            if (Number(after.size) !== entry.s || after.mtimeNs !== it.mtimeNs) changedWhileRead.push(it.rel);
          }
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (err instanceof EngineError || typeof code !== 'string' || !code.startsWith('E')) throw err;
          throw new EngineError('INVALID', `Cannot read ${it.abs}: ${(err as Error).message}. Check its permissions, then run the backup again.`);
        }
      }
    }
    await dataSink.end();
    await flushReady();
    if (lines) await filesSink.write(Buffer.from(lines));
    await scan?.done;
    if (pending.length) throw new Error(`internal: ${pending.length} manifest entries left unflushed`);
    await filesSink.end();

    // The base's files after the walk's last path are gone too; a previous backup whose manifest could not be
    // read to the end costs this backup its change summary (ransomware signals), not the backup.
    await join?.finish();
    if (join?.failure) ctx.log(`backup ${backupId}: cannot compare with ${compared!.backupId} (no ransomware signals for this backup): ${join.failure.message}`);
    const changes = join?.failure ? null : (tracker?.summary() ?? null);

    const chunkIds = await dataSink.shardIds();
    for (let i = 0; i < chunkIds.length; i += IDS_PER_LINE) {
      await chunksSink.write(Buffer.from(`${JSON.stringify(chunkIds.slice(i, i + IDS_PER_LINE))}\n`));
    }
    await chunksSink.end();
    await writer.drain();
    progress.phase = 'finalizing';
    return {
      filesReused,
      changedWhileRead: [...new Set(changedWhileRead)],
      originalSize: original,
      fileCount: files,
      shardCount: referenced.size,
      stats: writer.stats,
      filesShards: await filesSink.shardIds(),
      chunksShards: await chunksSink.shardIds(),
      skipped,
      changes,
    };
  } finally {
    // The scan thread keeps each stream's state until told: a failed backup must not leave it there.
    dataSink.close();
    scan?.stop();
    await join?.close();
  }
}

/**
 * The walk's batches, each regular file's base version recorded in `before` as the base's manifest is read
 * alongside.
 */
async function* matchBase(batches: AsyncIterable<SourceItem[]>, join: BaseJoin, before: WeakMap<SourceItem, ManifestEntry>): AsyncGenerator<SourceItem[]> {
  for await (const batch of batches) {
    for (const it of batch) {
      const isFile = it.type === 'f';
      // Answered from the batch of base entries in hand, but for a file at the end of one.
      let b = join.matchNow(it.rel, isFile);
      if (b === READ_ON) b = await join.match(it.rel, isFile);
      if (b) before.set(it, b);
    }
    yield batch;
  }
}

function toEntry(it: SourceItem, atime: boolean): ManifestEntry {
  const [mt, mtn] = splitNs(it.mtimeNs);
  const e: ManifestEntry = { p: it.rel, t: it.type, m: it.mode, mt, mtn, u: it.uid, g: it.gid };
  if (atime) [e.at, e.atn] = splitNs(it.atimeNs);
  if (it.type === 'f') {
    e.s = it.size;
    e.i = it.ino;
    [e.ct, e.ctn] = splitNs(it.ctimeNs);
  }
  setXattrs(e, it.xattrs);
  return e;
}

/** A manifest entry's extended attributes (base64 values), when there are any. */
function setXattrs(e: ManifestEntry, xattrs: Record<string, Buffer> | undefined): void {
  if (xattrs) e.xa = Object.fromEntries(Object.entries(xattrs).map(([k, v]) => [k, v.toString('base64')]));
}

/**
 * Snapshot mode: a small file is read until two stats around the read agree (at most 3 times), so it is
 * never stored torn; a large file is streamed and, if it changed meanwhile, reported.
 */
async function readStable(it: SourceItem, content: Promise<Buffer>): Promise<{ data: Buffer; changed: boolean }> {
  let data = await content;
  for (let attempt = 0; attempt < 3; attempt++) {
    const after = await stat(it.abs, { bigint: true });
    if (Number(after.size) === it.size && after.mtimeNs === it.mtimeNs && Number(after.size) === data.length) return { data, changed: false };
    it.size = Number(after.size);
    it.mtimeNs = after.mtimeNs;
    data = await readFile(it.abs);
  }
  return { data, changed: true };
}

/** A large file that addEntry reads itself, into the data sink's blocks. */
interface FileToRead {
  path: string;
}

function isFileToRead(data: Buffer | AsyncIterable<Uint8Array> | FileToRead): data is FileToRead {
  return !Buffer.isBuffer(data) && 'path' in data;
}

/** Reads a file in blocks into one reused buffer (the chunker copies what it keeps). */
async function* readFileBlocks(file: string): AsyncIterable<Uint8Array> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(READ_SIZE);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, READ_SIZE, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}
