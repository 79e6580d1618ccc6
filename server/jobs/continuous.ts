/**
 * Continuous backups: a watcher on the sources that makes an incremental backup (type `continuous`) a
 * configurable delay after the last change it saw. Changes during a run lead to exactly one more run after
 * it, so a busy tree gives one backup per delay window, not one per change.
 */
import { type FSWatcher, watch } from 'node:fs';
import type { BackupEngine } from '../engine/engine';
import type { BackupMetadata } from '../engine/types';

export interface ContinuousOptions {
  paths: string[];
  delayMs: number;
  tags?: string[];
  log?: (line: string) => void;
  onBackup?: (meta: BackupMetadata) => void;
  /** What a burst of changes triggers, instead of a plain engine backup (a schedule's run, in the worker). */
  run?: () => Promise<void>;
}

export class ContinuousWatcher {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private dirty = false;
  private stopped = false;

  constructor(
    private readonly engine: BackupEngine,
    private readonly opts: ContinuousOptions,
  ) {}

  /** Starts watching and makes a first backup, so the watched state has a base. */
  start(): Promise<void> {
    for (const p of this.opts.paths) {
      const w = watch(p, { recursive: true }, () => this.changed());
      w.on('error', (err) => this.opts.log?.(`continuous: watching ${p} failed: ${err.message}`));
      this.watchers.push(w);
    }
    return this.run();
  }

  private changed(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.run(), this.opts.delayMs);
  }

  private run(): Promise<void> {
    this.timer = null;
    this.running = (async () => {
      try {
        if (this.opts.run) {
          await this.opts.run();
          return;
        }
        const meta = await this.engine.createBackup({ paths: this.opts.paths, backupType: 'continuous', tags: ['continuous', ...(this.opts.tags ?? [])], actor: 'system:continuous' });
        this.opts.log?.(`continuous: ${meta.backup_id} ${meta.status} (${meta.metadata.files_reused ?? 0} of ${meta.file_count} files unchanged)`);
        this.opts.onBackup?.(meta);
      } catch (err) {
        this.opts.log?.(`continuous: backup failed: ${(err as Error).message}`);
      } finally {
        this.running = null;
        if (this.dirty && !this.stopped) {
          this.dirty = false;
          this.changed();
        }
      }
    })();
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    await this.running;
  }
}
