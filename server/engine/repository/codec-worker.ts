/** Runs in a worker thread: the CPU-heavy half of the pipeline (compress + encrypt + checksum, and back). */
import { createHmac } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { decodeObject, encodeObject, storedChecksum, type DecodeOptions, type EncodeOptions } from './codec';
import { transferable } from './transferable';

type Request =
  | { id: number; op: 'hash'; data: Uint8Array; key: Uint8Array }
  | { id: number; op: 'encode'; data: Uint8Array; recycle?: boolean; opts: Omit<EncodeOptions, 'key'> & { key: Uint8Array | null } }
  | { id: number; op: 'decode'; data: Uint8Array; label: string; keys: Record<string, Uint8Array>; opts: DecodeOptions }
  | { id: number; op: 'checksum'; data: Uint8Array };

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
