/**
 * Walks run on the codec pool's scan thread (walk-thread.ts has the main thread's side). A walk uses the same
 * code as on the main thread (source.ts) and hands the items over in batches, at most `ahead` batches before
 * its consumer; a count adds up a tree's files and bytes for progress. Several walks and counts, and the scan
 * jobs, take turns at the walk's pauses. Extended attributes are not read here: the consumer reads them for
 * the items it keeps.
 */
import { EngineError } from '../errors';
import { walkSources, type SourceItem } from './source';

export interface WalkSource {
  abs: string;
  rel: string;
}

export type WalkRequest =
  | { op: 'walk'; task: number; sources: WalkSource[]; batch: number; ahead: number }
  | { op: 'walk-count'; task: number; sources: WalkSource[] }
  | { op: 'walk-ack' | 'walk-stop'; task: number };

export type WalkReply =
  /** A walk's next items, the paths it skipped meanwhile, and whether it ended (with `error` when it failed). */
  | { walkTask: number; kind: 'items'; items: SourceItem[]; skips: [abs: string, why: string][]; done: boolean; error?: { engine: boolean; code: string; message: string } }
  /** A count so far (`done` when the tree is counted or cannot be: a count is an estimate). */
  | { walkTask: number; kind: 'totals'; files: number; bytes: number; done: boolean };

interface Task {
  stopped: boolean;
  /** Batches posted and not yet taken by the consumer. */
  unacked: number;
  wake: (() => void) | null;
}

const tasks = new Map<number, Task>();

function register(id: number): Task {
  const task: Task = { stopped: false, unacked: 0, wake: null };
  tasks.set(id, task);
  return task;
}

export function isWalkRequest(msg: { op: string }): msg is WalkRequest {
  return msg.op === 'walk' || msg.op.startsWith('walk-');
}

/** Starts or steers a walk task; its replies go out through `post`. */
export function serveWalk(req: WalkRequest, post: (reply: WalkReply) => void): void {
  if (req.op === 'walk') void walk(req, post);
  else if (req.op === 'walk-count') void count(req, post);
  else {
    const task = tasks.get(req.task);
    if (!task) return;
    if (req.op === 'walk-ack') task.unacked--;
    else task.stopped = true;
    task.wake?.();
    task.wake = null;
  }
}

async function walk(req: Extract<WalkRequest, { op: 'walk' }>, post: (reply: WalkReply) => void): Promise<void> {
  const task = register(req.task);
  let items: SourceItem[] = [];
  let skips: [string, string][] = [];
  try {
    for await (const it of walkSources(req.sources, (abs, why) => skips.push([abs, why]), { xattrs: false })) {
      if (task.stopped) return;
      items.push(it);
      if (items.length < req.batch) continue;
      post({ walkTask: req.task, kind: 'items', items, skips, done: false });
      items = [];
      skips = [];
      task.unacked++;
      while (task.unacked >= req.ahead && !task.stopped) await new Promise<void>((resolve) => (task.wake = resolve));
    }
    post({ walkTask: req.task, kind: 'items', items, skips, done: true });
  } catch (err) {
    // The items walked before the failure go first, as a walk on the main thread would have yielded them.
    const e = err as Error;
    const error = err instanceof EngineError ? { engine: true, code: err.code, message: e.message } : { engine: false, code: '', message: e.message };
    if (!task.stopped) post({ walkTask: req.task, kind: 'items', items, skips, done: true, error });
  } finally {
    tasks.delete(req.task);
  }
}

async function count(req: Extract<WalkRequest, { op: 'walk-count' }>, post: (reply: WalkReply) => void): Promise<void> {
  const task = register(req.task);
  let files = 0;
  let bytes = 0;
  let reported = Date.now();
  try {
    for await (const it of walkSources(req.sources, () => undefined, { xattrs: false })) {
      if (task.stopped) return;
      if (it.type === 'f') files++;
      bytes += it.size;
      if ((files & 1023) === 0 && Date.now() - reported >= 100) {
        post({ walkTask: req.task, kind: 'totals', files, bytes, done: false });
        reported = Date.now();
      }
    }
  } catch {
    // A count is an estimate for progress; the walk that backs up reports what it cannot read.
  } finally {
    tasks.delete(req.task);
  }
  if (!task.stopped) post({ walkTask: req.task, kind: 'totals', files, bytes, done: true });
}
