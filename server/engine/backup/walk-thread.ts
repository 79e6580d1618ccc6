/**
 * The walk of a backup's sources off the main thread. On the main thread each lstat of a cold tree waited for
 * the disk with nothing else running, and on a warm one the stats and their objects were a third of an
 * unchanged re-backup's main-thread time. The walk runs on the codec pool's scan thread (walk-tasks.ts; no
 * thread of its own: a Node thread costs ~15 MiB) ahead of its consumer, by at most AHEAD batches, so its
 * waits overlap the main thread's work. Order, paths, skips and errors are the walk's (source.ts): the thread
 * runs the same code. This side sends the requests and turns the replies back into a stream of items.
 */
import { EngineError, type EngineErrorCode } from '../errors';
import type { SourceItem } from './source';
import type { WalkReply, WalkRequest, WalkSource } from './walk-tasks';

/** Items per message, and messages the thread may post before the consumer has taken them. */
const BATCH = 256;
const AHEAD = 8;

/** The thread hosting the walks: messages to it, and whether it keeps the process alive. */
export interface WalkHost {
  post(req: WalkRequest): void;
  ref(): void;
  unref(): void;
}

/** A count in progress: `done` settles when it is complete (or failed, or stopped); `stop` ends it early. */
export interface Count {
  done: Promise<void>;
  stop: () => void;
}

/** Only the fields the thread needs (a caller's source may carry more). */
const plain = (sources: WalkSource[]): WalkSource[] => sources.map(({ abs, rel }) => ({ abs, rel }));

export class WalkClient {
  private readonly listeners = new Map<number, (reply: WalkReply | Error) => void>();
  private nextTask = 1;
  private active = 0;
  private dead: Error | null = null;

  constructor(private readonly host: WalkHost) {}

  /** A reply from the thread. */
  onReply(reply: WalkReply): void {
    this.listeners.get(reply.walkTask)?.(reply);
  }

  /** The thread died: every walk fails with `err`, and later ones at once (never a hang). */
  fail(err: Error): void {
    this.dead ??= err;
    for (const listener of [...this.listeners.values()]) listener(err);
  }

  /** A walk or count starts: the process stays alive for its answers, as long as one runs. */
  private hold(): void {
    if (this.active++ === 0) this.host.ref();
  }

  private release(): void {
    if (--this.active === 0) this.host.unref();
  }

  /** The items of walkSources(sources, onSkip, { xattrs: false }), walked on the thread. */
  async *walk(sources: WalkSource[], onSkip: (abs: string, why: string) => void): AsyncGenerator<SourceItem> {
    for await (const batch of this.walkBatches(sources, onSkip)) yield* batch;
  }

  /**
   * The same items, a batch (at most BATCH, never empty) at a time as the thread sent them: a consumer that
   * takes them item by item in a loop of its own makes one asynchronous step per batch instead of per item
   * (an unchanged re-backup of 200,000 files spent ~0.2 s of its main thread in the generators' steps).
   */
  async *walkBatches(sources: WalkSource[], onSkip: (abs: string, why: string) => void): AsyncGenerator<SourceItem[]> {
    if (this.dead) throw this.dead;
    const task = this.nextTask++;
    const queue: (WalkReply | Error)[] = [];
    let wake: (() => void) | null = null;
    this.listeners.set(task, (reply) => {
      queue.push(reply);
      wake?.();
      wake = null;
    });
    let ended = false;
    this.hold();
    try {
      this.host.post({ op: 'walk', task, sources: plain(sources), batch: BATCH, ahead: AHEAD });
      for (;;) {
        while (!queue.length) await new Promise<void>((resolve) => (wake = resolve));
        const reply = queue.shift()!;
        if (reply instanceof Error) {
          ended = true;
          throw reply;
        }
        if (reply.kind !== 'items') continue;
        ended = reply.done;
        // Taken: the thread may walk the next batch while this one is consumed.
        if (!reply.done) this.host.post({ op: 'walk-ack', task });
        for (const [abs, why] of reply.skips) onSkip(abs, why);
        if (reply.items.length) yield reply.items;
        if (reply.error) {
          const { engine, code, message } = reply.error;
          throw engine ? new EngineError(code as EngineErrorCode, message) : new Error(message);
        }
        if (reply.done) return;
      }
    } finally {
      this.listeners.delete(task);
      this.release();
      if (!ended && !this.dead) this.host.post({ op: 'walk-stop', task });
    }
  }

  /** Counts files and bytes under the sources on the thread, calling `onTotals` with the totals so far. */
  count(sources: WalkSource[], onTotals: (files: number, bytes: number) => void): Count {
    if (this.dead) return { done: Promise.resolve(), stop: () => undefined };
    const task = this.nextTask++;
    let stopped = false;
    let resolve = () => undefined as void;
    const done = new Promise<void>((r) => (resolve = r));
    const finish = () => {
      if (!this.listeners.delete(task)) return;
      this.release();
      resolve();
    };
    this.listeners.set(task, (reply) => {
      if (reply instanceof Error) return finish(); // an estimate: the walk that backs up reports the failure
      if (reply.kind !== 'totals') return;
      if (!stopped) onTotals(reply.files, reply.bytes);
      if (reply.done) finish();
    });
    this.hold();
    this.host.post({ op: 'walk-count', task, sources: plain(sources) });
    const stop = () => {
      if (stopped) return;
      stopped = true;
      if (!this.dead) this.host.post({ op: 'walk-stop', task });
      finish();
    };
    return { done, stop };
  }
}
