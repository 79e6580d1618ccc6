/**
 * A backup's walk read side by side with its base's manifest (or the previous backup's, for the change
 * summary). Both list their paths in walk order (walk-order.ts), so each walked path is found by reading the
 * manifest forward to it: what is held is the few decoded manifest shards read ahead, whatever the number of
 * files. The base's entries once took ~550 bytes a file in memory for the whole backup (and 170 in columns).
 *
 * A file matches only an entry of exactly its path, so a manifest out of walk order (a damaged one, an order
 * this code does not know) costs reads of files that were unchanged, never a wrong match. Every regular file
 * of the base is handed to `passed` once, as it is read past: matched (the walk has it, as a file) or not (it
 * is gone, or is no longer a regular file).
 */
import type { ManifestEntry } from '../repository/manifest';
import type { PathOrder } from './walk-order';

/** matchNow()'s answer when the entries in hand are used up: call match(), which reads on. */
export const READ_ON: unique symbol = Symbol('read on');

export class BaseJoin {
  /** The batch of entries being read through, and the next one not yet passed in it. */
  private batch: ManifestEntry[] = [];
  private at = 0;
  /** The manifest has ended (or failed, below). */
  private ended = false;
  private error: Error | null = null;

  /**
   * `entries`: the manifest's entries in batches. `tolerant`: a manifest that cannot be read to its end ends
   * the join (the error is kept in `failure`) instead of failing the lookup, for a previous backup read only
   * to compare with.
   */
  constructor(
    private readonly entries: AsyncIterator<ManifestEntry[]>,
    private readonly order: PathOrder,
    private readonly passed: (file: ManifestEntry, matched: boolean) => void,
    private readonly tolerant = false,
  ) {}

  /** Why a tolerant join ended early, or null. */
  get failure(): Error | null {
    return this.error;
  }

  /**
   * The base's regular file at `rel` when the walk has a regular file there (`isFile`), else undefined. Paths
   * must come in walk order: every entry before `rel` is passed on the way.
   */
  async match(rel: string, isFile: boolean): Promise<ManifestEntry | undefined> {
    for (;;) {
      const found = this.matchNow(rel, isFile);
      if (found !== READ_ON) return found;
      await this.read();
    }
  }

  /**
   * match() as far as the entries in hand go, without waiting: its answer, or READ_ON when it needs the next
   * batch (then match() with the same path goes on from where this stopped). Most files of a walk are
   * answered here, without an asynchronous step each.
   */
  matchNow(rel: string, isFile: boolean): ManifestEntry | undefined | typeof READ_ON {
    for (;;) {
      const head = this.peek();
      if (head === READ_ON || head === null) return head ?? undefined;
      const c = this.order(head.p, rel);
      if (c > 0) return undefined;
      this.at++;
      if (head.t !== 'f') continue;
      const matched = c === 0 && isFile;
      this.passed(head, matched);
      if (matched) return head;
      if (c === 0) return undefined;
    }
  }

  /** Passes every entry left (files the walk did not have), then stops reading. */
  async finish(): Promise<void> {
    for (;;) {
      const head = this.peek();
      if (head === null) return;
      if (head === READ_ON) {
        await this.read();
        continue;
      }
      this.at++;
      if (head.t === 'f') this.passed(head, false);
    }
  }

  /** Stops reading the manifest (a backup that ends early). */
  async close(): Promise<void> {
    this.end();
    await this.entries.return?.();
  }

  /** The next entry not yet passed; null when the manifest has ended; READ_ON when the batch is used up. */
  private peek(): ManifestEntry | null | typeof READ_ON {
    if (this.at < this.batch.length) return this.batch[this.at]!;
    return this.ended ? null : READ_ON;
  }

  private end(): void {
    this.ended = true;
    this.batch = [];
    this.at = 0;
  }

  private async read(): Promise<void> {
    try {
      const r = await this.entries.next();
      if (r.done) this.end();
      else {
        this.batch = r.value;
        this.at = 0;
      }
    } catch (err) {
      if (!this.tolerant) throw err;
      this.error = err as Error;
      this.end();
    }
  }
}
