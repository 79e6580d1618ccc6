/** Runs in a worker thread: the CPU-heavy half of the pipeline (compress + encrypt + checksum, and back). */
import { createHash, createHmac, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { CutFinder, type ChunkerOptions } from '../backup/cut-finder';
import { decodeObject, encodeObject, storedChecksum, type DecodeOptions, type EncodeOptions } from './codec';
import { transferable } from './transferable';

type Request =
  | { id: number; op: 'hash'; data: Uint8Array; key: Uint8Array }
  | { id: number; op: 'encode'; data: Uint8Array; recycle?: boolean; opts: Omit<EncodeOptions, 'key'> & { key: Uint8Array | null } }
  | { id: number; op: 'decode'; data: Uint8Array; label: string; keys: Record<string, Uint8Array>; opts: DecodeOptions }
  | { id: number; op: 'checksum'; data: Uint8Array }
  | { id: number; op: 'scan'; stream: number; data: Uint8Array; opts: ChunkerOptions; reset: boolean; files: number[] }
  | { id: number; op: 'scan-close'; stream: number };

/** Streams being scanned on this thread (the pool's scan thread): cut state and the file being hashed. */
const streams = new Map<number, { finder: CutFinder; sha: Hash | null }>();

const toBuf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

parentPort!.on('message', (req: Request) => {
  try {
    if (req.op === 'hash') {
      const cid = createHmac('sha256', toBuf(req.key)).update(req.data).digest('hex');
      parentPort!.postMessage({ id: req.id, ok: true, cid, data: req.data }, [req.data.buffer as ArrayBuffer]);
    } else if (req.op === 'encode') {
      const r = encodeObject(toBuf(req.data), { ...req.opts, key: req.opts.key ? toBuf(req.opts.key) : null });
      const out = transferable(r.stored);
      // A recyclable chunk buffer goes back to the pool that lent it (never the stored object's own memory).
      const back = req.recycle && req.data.buffer !== out.buffer ? req.data : undefined;
      const transfer = back ? [out.buffer as ArrayBuffer, back.buffer as ArrayBuffer] : [out.buffer as ArrayBuffer];
      parentPort!.postMessage({ id: req.id, ok: true, stored: out, checksum: r.checksum, compression: r.compression, plain: back }, transfer);
    } else if (req.op === 'scan') {
      let s = streams.get(req.stream);
      if (!s) streams.set(req.stream, (s = { finder: new CutFinder(req.opts), sha: null }));
      if (req.reset) s.finder.reset();
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
      parentPort!.postMessage({ id: req.id, ok: true, data: req.data, cuts, digests }, [req.data.buffer as ArrayBuffer]);
    } else if (req.op === 'scan-close') {
      streams.delete(req.stream);
      parentPort!.postMessage({ id: req.id, ok: true });
    } else if (req.op === 'checksum') {
      parentPort!.postMessage({ id: req.id, ok: true, checksum: storedChecksum(toBuf(req.data)) });
    } else {
      const plain = decodeObject(toBuf(req.data), req.label, (k) => (Object.hasOwn(req.keys, k) ? toBuf(req.keys[k]!) : null), req.opts);
      const out = transferable(plain);
      parentPort!.postMessage({ id: req.id, ok: true, plain: out }, [out.buffer as ArrayBuffer]);
    }
  } catch (err) {
    parentPort!.postMessage({ id: req.id, ok: false, name: (err as Error).name, message: (err as Error).message });
  }
});
