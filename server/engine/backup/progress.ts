import type { BackupProgress, BackupStatus } from '../types';

/** Live counters of a running backup; `snapshot()` is what `get_backup_progress` returns. */
export class ProgressTracker {
  phase: BackupProgress['phase'] = 'scanning';
  status: BackupStatus = 'running';
  bytesDone = 0;
  bytesTotal = 0;
  filesDone = 0;
  filesTotal = 0;
  shardsDone = 0;
  /** While queued: 1 = next to start (backup-queue.ts). */
  queuePosition: number | null = null;
  private readonly started: number;

  constructor(
    readonly backupId: string,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.started = now().getTime();
  }

  snapshot(): BackupProgress {
    const elapsed = Math.max(0.001, (this.now().getTime() - this.started) / 1000);
    const mbps = this.bytesDone / 1048576 / elapsed;
    const left = Math.max(0, this.bytesTotal - this.bytesDone);
    const done = this.phase === 'done';
    return {
      backup_id: this.backupId,
      status: this.status,
      phase: this.phase,
      queue_position: this.phase === 'queued' ? this.queuePosition : null,
      bytes_done: this.bytesDone,
      bytes_total: this.bytesTotal,
      files_done: this.filesDone,
      files_total: this.filesTotal,
      shards_done: this.shardsDone,
      throughput_mbps: Math.round(mbps * 100) / 100,
      eta_seconds: done ? 0 : mbps > 0 && this.phase === 'backing_up' ? Math.round(left / 1048576 / mbps) : null,
      percent: done ? 100 : this.bytesTotal > 0 ? Math.min(99.9, Math.round((this.bytesDone / this.bytesTotal) * 1000) / 10) : 0,
      updated_at: this.now().toISOString(),
    };
  }
}
