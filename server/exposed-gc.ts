/**
 * V8's gc(), for the few places that know memory just died and V8 would not look for a long time: a codec
 * thread's dead pieces (codec-worker.ts), the catalog server's start-up buffers (db/catalog-daemon.ts).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export type Gc = (options?: { type?: 'minor' | 'major' }) => void;

/** gc(), taken from a context of its own; undefined where a runtime refuses the flag (V8 then collects when it will). */
export function exposedGc(): Gc | undefined {
  try {
    setFlagsFromString('--expose-gc');
    const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
    return typeof gc === 'function' ? (gc as Gc) : undefined;
  } catch {
    return undefined;
  }
}
