/** The measured sequences, run the same way for every tool: one fresh repository per dataset group. */
import { type Dataset, type Datasets, readSums } from './datasets';
import type { RestoreTargets } from './restore-target';
import type { BenchSettings } from './settings';
import { dropCaches, type TreeSize } from './system';
import type { BackupFigures, OpFigures, Tool } from './tool';
import { verifyTree, type VerifyOutcome } from './verify';

export interface RestoreFigures extends OpFigures {
  verify: VerifyOutcome;
}

/** (a) and every real tree: backup, restore (verified), unchanged re-backup, repository size. */
export interface GroupA {
  start: OpFigures;
  settle: OpFigures | null;
  backup: BackupFigures;
  restore: RestoreFigures;
  rebackup: BackupFigures;
  storage: TreeSize;
}

export interface GroupB {
  start: OpFigures;
  settle: OpFigures | null;
  backup: BackupFigures;
  restore: RestoreFigures;
  storage_after_json: TreeSize;
  shifted: BackupFigures;
  storage_after_shifted: TreeSize;
  /** Repository growth on disk from backing up (c), divided by the number of copies. */
  shifted_growth_per_copy: number;
}

export interface GroupD {
  start: OpFigures;
  settle: OpFigures | null;
  backup: BackupFigures;
  /** An incremental backup of the unchanged tree right after the full one. */
  rebackup: BackupFigures;
  storage: TreeSize;
}

export interface ToolResults {
  copies: number;
  incompressible?: GroupA;
  json?: GroupB;
  small_files?: GroupD;
  /** Real trees (BENCH_TREES) by name. */
  trees: Record<string, GroupA>;
  errors: string[];
}

export class Runner {
  /** Whether dropping the page cache worked (null until tried). */
  cacheDropped: boolean | null = null;

  constructor(
    private readonly s: BenchSettings,
    private readonly data: Datasets | null,
    private readonly trees: Dataset[],
    private readonly log: (line: string) => void,
    private readonly targets: RestoreTargets,
  ) {}

  async runTool(tool: Tool): Promise<ToolResults> {
    const out: ToolResults = { copies: tool.copies, trees: {}, errors: [] };
    const data = this.data;
    if (data) {
      out.incompressible = await this.group(tool, out, 'incompressible', () => this.groupA(tool, data.incompressible));
      out.json = await this.group(tool, out, 'json', () => this.groupB(tool, data));
      out.small_files = await this.group(tool, out, 'small-files', () => this.groupD(tool, data.small));
    }
    for (const t of this.trees) {
      const g = await this.group(tool, out, `tree ${t.name}`, () => this.groupA(tool, t));
      if (g) out.trees[t.name] = g;
    }
    return out;
  }

  private async group<T>(tool: Tool, out: ToolResults, name: string, run: () => Promise<T>): Promise<T | undefined> {
    try {
      return await run();
    } catch (err) {
      this.log(`${tool.name} ${name}: FAILED: ${(err as Error).message}`);
      out.errors.push(`${name}: ${(err as Error).message}`);
      return undefined;
    } finally {
      await tool.close().catch((err: unknown) => this.log(`${tool.name}: cleanup failed: ${(err as Error).message}`));
    }
  }

  private async groupA(tool: Tool, a: Dataset): Promise<GroupA> {
    const { start, settle } = await this.begin(tool);
    const backup = await this.op(tool, `backup ${a.name}`, () => tool.backup(a.dir), a.bytes);
    const restore = await this.restoreAndVerify(tool, backup.id, a);
    const rebackup = await this.op(tool, `re-backup ${a.name} (unchanged)`, () => tool.backup(a.dir, { incremental: true }), a.bytes);
    return { start, settle, backup, restore, rebackup, storage: await tool.storage() };
  }

  private async groupB(tool: Tool, { json, shifted }: Datasets): Promise<GroupB> {
    const { start, settle } = await this.begin(tool);
    const backup = await this.op(tool, `backup ${json.name}`, () => tool.backup(json.dir), json.bytes);
    const restore = await this.restoreAndVerify(tool, backup.id, json);
    const before = await tool.storage();
    const shiftedOp = await this.op(tool, `backup ${shifted.name} after ${json.name}`, () => tool.backup(shifted.dir), shifted.bytes);
    const after = await tool.storage();
    return {
      start,
      settle,
      backup,
      restore,
      storage_after_json: before,
      shifted: shiftedOp,
      storage_after_shifted: after,
      shifted_growth_per_copy: (after.bytes - before.bytes) / tool.copies,
    };
  }

  private async groupD(tool: Tool, d: Dataset): Promise<GroupD> {
    const { start, settle } = await this.begin(tool);
    const backup = await this.op(tool, `backup ${d.name}`, () => tool.backup(d.dir), d.bytes);
    const storage = await tool.storage();
    const rebackup = await this.op(tool, `incremental re-backup ${d.name} (unchanged)`, () => tool.backup(d.dir, { incremental: true }), d.bytes);
    return { start, settle, backup, rebackup, storage };
  }

  private async begin(tool: Tool): Promise<{ start: OpFigures; settle: OpFigures | null }> {
    const start = await this.op(tool, 'new installation', () => tool.start());
    const settled = await tool.settle();
    if (settled) this.log(`${tool.name}: restarted on the existing installation: ${settled.seconds.toFixed(2)} s${settled.helper_peak_rss ? `, catalog server ${(settled.helper_peak_rss / 1048576).toFixed(0)} MiB` : ''}`);
    return { start, settle: settled };
  }

  /** A restore into a target of its own (restore-target.ts: a new file system where possible), then checked. */
  private async restoreAndVerify(tool: Tool, id: string, d: Dataset): Promise<RestoreFigures> {
    const target = await this.targets.prepare(`${tool.name}-${d.name}`, d.bytes, d.files);
    try {
      const r = await this.op(tool, `restore ${d.name}`, () => tool.restore(id, target.dir), d.bytes);
      const verify = await verifyTree(target.dir, await readSums(d));
      this.log(`${tool.name}: restored ${d.name} ${verify.ok ? 'is byte-identical' : `DIFFERS: ${verify.problems.join('; ')}`} (${verify.files_found} files checked in ${verify.seconds.toFixed(1)} s)`);
      return { ...r, verify };
    } finally {
      await target.release();
    }
  }

  /** One timed operation, on a cold page cache when that is possible. */
  private async op<T extends OpFigures>(tool: Tool, what: string, run: () => Promise<T>, bytes?: number): Promise<T> {
    if (this.s.dropCaches) this.cacheDropped = dropCaches() && this.cacheDropped !== false;
    const r = await run();
    const rate = bytes ? `, ${(bytes / 1048576 / r.seconds).toFixed(1)} MiB/s` : '';
    const rss = r.peak_rss ? `, peak RSS ${(r.peak_rss / 1048576).toFixed(0)} MiB` : '';
    const helper = r.helper_peak_rss ? ` (+ catalog server ${(r.helper_peak_rss / 1048576).toFixed(0)} MiB)` : '';
    const other = r.other_cpu_seconds !== null && r.other_cpu_seconds > 0.5 ? ` [other processes: ${r.other_cpu_seconds.toFixed(1)} CPU s]` : '';
    this.log(`${tool.name}: ${what}: ${r.seconds.toFixed(2)} s${rate}${rss}${helper}${other}`);
    return r;
  }
}
