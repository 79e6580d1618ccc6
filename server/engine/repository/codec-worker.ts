/** Runs in a worker thread: the CPU-heavy half of the pipeline (compress + encrypt + checksum, and back). */
import { createHmac } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { decodeObject, encodeObject, storedChecksum, type DecodeOptions, type EncodeOptions } from './codec';

type Request =
  | { id: number; op: 'hash'; data: Uint8Array; key: Uint8Array }
  | { id: number; op: 'encode'; data: Uint8Array; opts: Omit<EncodeOptions, 'key'> & { key: Uint8Array | null } }
  | { id: number; op: 'decode'; data: Uint8Array; label: string; keys: Record<string, Uint8Array>; opts: DecodeOptions }
  | { id: number; op: 'checksum'; data: Uint8Array };

const toBuf = (u: Uint8Array) => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

/**
 * The result as a Uint8Array that can be transferred: zero-copy when it owns its whole ArrayBuffer, a copy
 * otherwise. Small Buffers live in Node's shared pool; transferring the pool would detach every other Buffer
 * in it, and from Node 21 on `postMessage` throws on it (the pool is marked untransferable).
 */
function owned(b: Uint8Array): Uint8Array {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength && !(b.buffer instanceof SharedArrayBuffer)) {
    return new Uint8Array(b.buffer, 0, b.byteLength);
  }
  return new Uint8Array(b);
}

parentPort!.on('message', (req: Request) => {
  try {
    if (req.op === 'hash') {
      const cid = createHmac('sha256', toBuf(req.key)).update(req.data).digest('hex');
      parentPort!.postMessage({ id: req.id, ok: true, cid, data: req.data }, [req.data.buffer as ArrayBuffer]);
    } else if (req.op === 'encode') {
      const r = encodeObject(toBuf(req.data), { ...req.opts, key: req.opts.key ? toBuf(req.opts.key) : null });
      const out = owned(r.stored);
      parentPort!.postMessage({ id: req.id, ok: true, stored: out, checksum: r.checksum, compression: r.compression }, [out.buffer as ArrayBuffer]);
    } else if (req.op === 'checksum') {
      parentPort!.postMessage({ id: req.id, ok: true, checksum: storedChecksum(toBuf(req.data)) });
    } else {
      const plain = decodeObject(toBuf(req.data), req.label, (k) => (Object.hasOwn(req.keys, k) ? toBuf(req.keys[k]!) : null), req.opts);
      const out = owned(plain);
      parentPort!.postMessage({ id: req.id, ok: true, plain: out }, [out.buffer as ArrayBuffer]);
    }
  } catch (err) {
    parentPort!.postMessage({ id: req.id, ok: false, name: (err as Error).name, message: (err as Error).message });
  }
});
