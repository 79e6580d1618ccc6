/** What the scenarios need from a backup tool, and the figures every measured operation yields. */
import type { Measured } from './measure';
import type { TreeSize } from './system';

export interface OpFigures {
  /** Wall time of the whole command, process start to exit. */
  seconds: number;
  peak_rss: number | null;
  cpu_seconds: number | null;
  /** PlexiChat's catalog server during the operation (null for tools without a helper process). */
  helper_peak_rss: number | null;
  /** Of it, the pages only the catalog server holds (its shared pages are the node binary the command maps too). */
  helper_peak_private?: number | null;
  helper_cpu_seconds: number | null;
  /** The tool's own measure of the operation, without process start-up (when it reports one). */
  tool_seconds: number | null;
  /** CPU seconds used by everything else on the machine meanwhile (other users' work, kernel threads). */
  other_cpu_seconds: number | null;
}

export interface BackupFigures extends OpFigures {
  id: string;
  /** New bytes the tool says this backup added (PlexiChat: new_bytes, stored; restic: data_added). */
  added_reported: number;
  /** New shards or blobs. */
  new_objects: number | null;
}

export type ToolName = 'plexichat' | 'restic' | 'borg';

export interface Tool {
  readonly name: ToolName;
  /** Copies of every object it stores (PlexiChat's replication_factor; restic and borg: 1). */
  readonly copies: number;
  /** Creates the repository or installation; the first command a user would run. */
  start(): Promise<OpFigures>;
  /**
   * Brings the tool to the state it is in on any later day, before the timed operations; null when there is
   * nothing to do. PlexiChat: restarts the catalog server on the now existing database (it stops by itself
   * after a minute idle, and a server that ran initdb and the migrations keeps their memory).
   */
  settle(): Promise<OpFigures | null>;
  /** `incremental`: skip unchanged files (PlexiChat `--type incremental`; restic uses its parent, borg its files cache, always). */
  backup(src: string, opts?: { incremental?: boolean }): Promise<BackupFigures>;
  restore(id: string, target: string): Promise<OpFigures>;
  /** The repository (all copies) on disk. */
  storage(): Promise<TreeSize>;
  close(): Promise<void>;
}

export function figures(m: Measured, toolSeconds: number | null = null): OpFigures {
  return {
    seconds: m.seconds,
    peak_rss: m.peakRss,
    cpu_seconds: m.cpuSeconds,
    helper_peak_rss: m.helper?.peakRss ?? null,
    helper_peak_private: m.helper?.peakPrivate ?? null,
    helper_cpu_seconds: m.helper?.cpuSeconds ?? null,
    tool_seconds: toolSeconds,
    other_cpu_seconds: m.machineCpuSeconds === null ? null : Math.max(0, m.machineCpuSeconds - (m.cpuSeconds ?? 0) - (m.helper?.cpuSeconds ?? 0)),
  };
}

/** Throws with the command's own words when it failed. */
export function check(m: Measured, what: string): void {
  if (m.code === 0) return;
  const tail = `${m.stderr.trim().split('\n').slice(-8).join('\n')}\n${m.stdout.trim().slice(-1000)}`;
  throw new Error(`${what} failed (exit ${m.code}):\n${tail}`);
}
