/** Runs in a worker thread: the CPU-heavy half of the pipeline (compress + encrypt + checksum, and back). */
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { CutFinder, type ChunkerOptions } from '../backup/cut-finder';
import { capacityFor, uninitialized } from './chunk-buffers';
import { decodeObject, encodeObject, storedChecksum, type DecodeOptions, type EncodeOptions } from './codec';
import { SpareBuffers } from './spare-buffers';
import { transferable } from './transferable';
import { isWalkRequest, serveWalk, type WalkReply, type WalkRequest } from '../backup/walk-tasks';
import { type WholeFile, writeWholeFiles } from '../restore/whole-file';
import { DeadMemory } from './dead-memory';

type Request =
  | { id: number; op: 'hash'; data: Uint8Array; key: Uint8Array }
  | { id: number; op: 'encode'; data: Uint8Array; recycle?: boolean; spare?: ArrayBuffer; opts: Omit<EncodeOptions, 'key'> & { key: Uint8Array | null } }
  | { id: number; op: 'decode'; data: Uint8Array; label: string; keys: Record<string, Uint8Array>; opts: DecodeOptions; spare?: ArrayBuffer }
  | { id: number; op: 'checksum'; data: Uint8Array }
  | { id: number; op: 'scan'; stream: number; data: Uint8Array; opts: ChunkerOptions; reset: boolean; files: number[]; ids?: { key: Uint8Array; final: boolean } }
  | { id: number; op: 'scan-close'; stream: number }
  | { id: number; op: 'write-files'; files: WholeFile[] };

/**
 * A young-generation collection, run after every few MiB that AES-GCM's pieces (codec.ts PIECE), a restore's
 * small files written here, or stored copies checksummed here left as garbage: this thread allocates too few
 * objects of its own to collect by itself, so that memory piled up (+30–40 MiB of the backup's footprint in
 * a test) where a minor collection, a fraction of a millisecond for this heap, frees it warm for the next.
 */
const died = new DeadMemory(4 * 1024 * 1024);

/**
 * Streams being scanned on this thread (the pool's scan thread): cut state, the file being hashed and, when the
 * stream's chunks get their content ids here, the keyed hash of the chunk begun in an earlier block.
 */
interface ScanState {
  finder: CutFinder;
  sha: Hash | null;
  key: Buffer | null;
  mac: Hmac | null;
  /** Bytes of the chunk being gathered that earlier blocks held. */
  carried: number;
}
const streams = new Map<number, ScanState>();

/** Plaintext buffers the main thread handed back (spare-buffers.ts): a few shards' worth. */
const spares = new SpareBuffers(8 * 1024 * 1024);
/** Stored-object buffers handed back by a backup (a shard's stored copy, once written), for the next encodes. */
const storedSpares = new SpareBuffers(4 * 1024 * 1024);

const toBuf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/** A content id's keyed hash (its hex digest is the id), for the 'hash' request and the scan alike. */
const contentIdHash = (levelKey: Buffer) => createHmac('sha256', levelKey);

const postWalk = (reply: WalkReply) => parentPort!.postMessage(reply);

parentPort!.on('message', (req: Request | WalkRequest) => {
  // The scan thread also walks backups' sources (walk-tasks.ts).
  if (isWalkRequest(req)) return serveWalk(req, postWalk);
  try {
    if (req.op === 'hash') {
      const cid = contentIdHash(toBuf(req.key)).update(req.data).digest('hex');
      parentPort!.postMessage({ id: req.id, ok: true, cid, data: req.data }, [req.data.buffer as ArrayBuffer]);
    } else if (req.op === 'encode') {
      encode(req);
    } else if (req.op === 'scan') {
      scan(req);
    } else if (req.op === 'scan-close') {
      streams.delete(req.stream);
      parentPort!.postMessage({ id: req.id, ok: true });
    } else if (req.op === 'write-files') {
      // A restore's small files (the scan thread is otherwise idle then); their buffers go back to be reused.
      const { results, buffers } = writeWholeFiles(req.files);
      parentPort!.postMessage({ id: req.id, ok: true, results, buffers }, buffers);
    } else if (req.op === 'checksum') {
      parentPort!.postMessage({ id: req.id, ok: true, checksum: storedChecksum(toBuf(req.data)) });
      // The stored copy dies here (verify): 1 GiB of chat JSON verified held ~25 MiB less at its peak with it,
      // in the same time (3 each in turns: 1.99-2.07 against 2.03-2.17 s).
      died.add(req.data.length);
    } else {
      decode(req);
    }
  } catch (err) {
    parentPort!.postMessage({ id: req.id, ok: false, name: (err as Error).name, message: (err as Error).message, code: (err as NodeJS.ErrnoException).code });
  }
});

/**
 * Finds a block's cuts, runs the files' hashes on over it and, when asked (`ids`), gives each chunk that ends
 * in it its content id: the same keyed hash CodecPool.contentId computes, here on the bytes as they pass, so
 * a chunk does not make a round trip to a codec thread before it is encoded. With each id goes the chunk's
 * length, which the main thread checks against the chunk it cut. `ids.final`: the stream ends with this
 * block; what is left of its last chunk gets its id (`tail`).
 */
function scan(req: Extract<Request, { op: 'scan' }>): void {
  let s = streams.get(req.stream);
  if (!s) streams.set(req.stream, (s = { finder: new CutFinder(req.opts), sha: null, key: null, mac: null, carried: 0 }));
  if (req.reset) {
    s.finder.reset();
    s.mac = null;
    s.carried = 0;
  }
  const cuts: number[] = [];
  s.finder.find(req.data, cuts);
  // files: [from, to, ends] triples; a file's hash runs on over blocks until the triple that ends it.
  const digests: string[] = [];
  for (let i = 0; i < req.files.length; i += 3) {
    s.sha ??= createHash('sha256');
    s.sha.update(req.data.subarray(req.files[i], req.files[i + 1]));
    if (req.files[i + 2]) {
      digests.push(s.sha.digest('hex'));
      s.sha = null;
    }
  }
  const ids: { cids: string[]; lengths: number[]; tail: { cid: string; length: number } | null } = { cids: [], lengths: [], tail: null };
  if (req.ids) {
    const st = s;
    st.key ??= Buffer.from(req.ids.key);
    const mac = () => (st.mac ??= contentIdHash(st.key!));
    let from = 0;
    for (const cut of cuts) {
      ids.cids.push(mac().update(req.data.subarray(from, cut)).digest('hex'));
      ids.lengths.push(st.carried + cut - from);
      st.mac = null;
      st.carried = 0;
      from = cut;
    }
    if (from < req.data.length) {
      mac().update(req.data.subarray(from));
      st.carried += req.data.length - from;
    }
    if (req.ids.final) {
      if (st.carried > 0) ids.tail = { cid: mac().digest('hex'), length: st.carried };
      st.mac = null;
      st.carried = 0;
    }
  }
  parentPort!.postMessage({ id: req.id, ok: true, data: req.data, cuts, digests, ...ids }, [req.data.buffer as ArrayBuffer]);
}

/**
 * Memory zstd compresses into, and a compressed shard is decrypted into before it is decompressed, kept
 * between shards (a few MiB: the worst case of the largest shard seen). One request runs at a time here,
 * and nothing a request answers with shares it.
 */
let scratchBuf: Buffer | null = null;
/** Larger than this, a shard's working memory is its own, and dies on the main thread with the answer. */
const MAX_SCRATCH = 16 * 1024 * 1024;

/** The scratch for one request; what it had to allocate beyond MAX_SCRATCH is added to `dead`. */
function scratchFor(dead: ArrayBuffer[]): (n: number) => Buffer {
  return (n) => {
    if (n > MAX_SCRATCH) {
      const own = Buffer.allocUnsafeSlow(n);
      dead.push(own.buffer as ArrayBuffer);
      return own;
    }
    if (!scratchBuf || scratchBuf.length < n) scratchBuf = Buffer.allocUnsafeSlow(n);
    return scratchBuf;
  };
}

/**
 * Memory for an answer (a decoded plaintext, a stored object): a spare of `list` the main thread handed back,
 * or new memory of a recyclable size. The buffers it handed out are added to `mine`.
 */
function answerMemory(list: SpareBuffers, mine: Set<ArrayBufferLike>): (n: number) => Buffer {
  return (n) => {
    const ab = list.take(n) ?? uninitialized(capacityFor(n));
    mine.add(ab);
    return Buffer.from(ab, 0, n);
  };
}

/**
 * Encodes into a spare (or new memory of a recyclable size), which the main thread hands back once the
 * object is stored: a new buffer per shard raised the main isolate's external memory until a full
 * collection freed it, and V8 counts that rise against the old generation's room. An oversized compression
 * buffer goes back with the answer, to die there.
 */
function encode(req: Extract<Request, { op: 'encode' }>): void {
  const dead: ArrayBuffer[] = [];
  if (req.spare) dead.push(...storedSpares.put(req.spare));
  const mine = new Set<ArrayBufferLike>();
  const r = encodeObject(toBuf(req.data), { ...req.opts, key: req.opts.key ? toBuf(req.opts.key) : null }, { scratch: scratchFor(dead), alloc: answerMemory(storedSpares, mine) });
  // A spare goes back whole, as a view of its first bytes (transferable() would copy it).
  const out = mine.has(r.stored.buffer) ? new Uint8Array(r.stored.buffer, 0, r.stored.length) : transferable(r.stored);
  // A recyclable chunk buffer goes back to the pool that lent it (never the stored object's own memory).
  const back = req.recycle && req.data.buffer !== out.buffer ? req.data : undefined;
  const transfer = [out.buffer as ArrayBuffer, ...dead];
  if (back) transfer.push(back.buffer as ArrayBuffer);
  const pieces = req.opts.key ? out.length : 0; // read before the transfer empties `out`
  parentPort!.postMessage({ id: req.id, ok: true, stored: out, checksum: r.checksum, compression: r.compression, plain: back, dead }, transfer);
  died.add(pieces);
}

/**
 * Decodes into a spare (or new memory of a recyclable size), the compressed body decrypted into the scratch,
 * and sends back with the plaintext what this thread is done with. The stored copy dies here, in the young
 * collections collectDead runs: sent back, it was one more buffer arriving on the main thread per shard,
 * and V8 counts the rise of an isolate's external memory against its old generation's room. A restore of 1 GiB (13,782 files) ran 54–55 full
 * collections on the main thread with it, 22–25 without, for 0.6 s less CPU and 15–20 MiB less memory at
 * the peak. Where this thread cannot collect (no gc()), the stored copy goes back to die on the main thread
 * as before, instead of waiting here for a collection nothing would prompt.
 */
function decode(req: Extract<Request, { op: 'decode' }>): void {
  const dead: ArrayBuffer[] = [];
  if (req.spare) dead.push(...spares.put(req.spare));
  const mine = new Set<ArrayBufferLike>();
  const alloc = answerMemory(spares, mine);
  const stored = toBuf(req.data);
  const pieces = stored.length; // read before the transfer empties it
  let plain = decodeObject(stored, req.label, (k) => (Object.hasOwn(req.keys, k) ? toBuf(req.keys[k]!) : null), req.opts, { alloc, scratch: scratchFor(dead) });
  if (plain.buffer === stored.buffer) {
    // Neither encrypted nor compressed: the plaintext is a slice of the stored copy.
    const copy = alloc(plain.length);
    plain.copy(copy);
    plain = copy;
  }
  // The whole stored ArrayBuffer was transferred here (transferable.ts): nothing else holds it.
  if (!died.collects) dead.push(req.data.buffer as ArrayBuffer);
  // A spare goes back whole, as a view of its first bytes (transferable() would copy it).
  const out = mine.has(plain.buffer) ? new Uint8Array(plain.buffer, 0, plain.length) : transferable(plain);
  parentPort!.postMessage({ id: req.id, ok: true, plain: out, dead }, [out.buffer as ArrayBuffer, ...dead]);
  died.add(pieces);
}
