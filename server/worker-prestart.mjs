// Codec threads started before the engine loads. A thread takes ~0.1 s of a core to load its modules; a
// backup or restore used to start its threads only once the CLI had loaded the engine and opened the catalog
// (~0.3 s), then wait for them, a core idle meanwhile. bin/ starts them first, for the commands that use
// them, and the codec pool (codec-pool.ts) adopts them. The registry is keyed on globalThis: the pool's copy
// of this module is bundled into dist/, a different module instance from the one bin/ imports.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';

const KEY = Symbol.for('plexichat.prestarted-workers');

/**
 * Codec threads: one core fewer than the machine has (at least one, at most four). codec-pool.ts says why;
 * here so that bin/ starts as many as the pool will use.
 */
export function codecThreadCount() {
  return Math.max(1, Math.min(4, availableParallelism() - 1));
}

/** @returns {Map<string, Worker[]>} */
function registry() {
  return (globalThis[KEY] ??= new Map());
}

/**
 * Starts `count` threads running `entry`, kept for takePrestarted(). They hold no job and do not keep the
 * process alive: a command that fails before it needs them exits as it would have. Returns them.
 */
export function prestartWorkers(entry, count) {
  const list = registry().get(entry) ?? [];
  const started = [];
  for (let i = 0; i < count; i++) {
    // Either entry loads what it needs itself; inheriting the parent's flags (profilers, -e) only hurts.
    const worker = new Worker(entry, { execArgv: [] });
    worker.unref();
    // A thread that fails before it is adopted is dropped; the pool starts its own in its place.
    worker.once('error', () => drop(entry, worker));
    worker.once('exit', () => drop(entry, worker));
    list.push(worker);
    started.push(worker);
  }
  registry().set(entry, list);
  return started;
}

/** A thread started for `entry` and not yet taken, or null. */
export function takePrestarted(entry) {
  return registry().get(entry)?.shift() ?? null;
}

function drop(entry, worker) {
  const list = registry().get(entry);
  const i = list?.indexOf(worker) ?? -1;
  if (i >= 0) list.splice(i, 1);
}
