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

export class BaseJoin {
  /** The next entry not yet passed; undefined: not read yet; null: the manifest has ended (or failed, below). */
  private head: ManifestEntry | null | undefined;
  private error: Error | null = null;

  /**
   * `tolerant`: a manifest that cannot be read to its end ends the join (the error is kept in `failure`) instead
   * of failing the lookup, for a previous backup read only to compare with.
   */
  constructor(
    private readonly entries: AsyncIterator<ManifestEntry>,
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
      const head = this.head === undefined ? await this.read() : this.head;
      if (!head) return undefined;
      const c = this.order(head.p, rel);
      if (c > 0) return undefined;
      this.head = undefined;
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
      const head = this.head === undefined ? await this.read() : this.head;
      if (!head) return;
      this.head = undefined;
      if (head.t === 'f') this.passed(head, false);
    }
  }

  /** Stops reading the manifest (a backup that ends early). */
  async close(): Promise<void> {
    this.head = null;
    await this.entries.return?.();
  }

  private async read(): Promise<ManifestEntry | null> {
    try {
      const r = await this.entries.next();
      this.head = r.done ? null : r.value;
    } catch (err) {
      if (!this.tolerant) throw err;
      this.error = err as Error;
      this.head = null;
    }
    return this.head;
  }
}
