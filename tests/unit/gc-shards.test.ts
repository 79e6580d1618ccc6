/**
 * Garbage collection of unreferenced shard rows with no database: the shard-row part of storage gc
 * (gc-shards.ts, as sweepOrphans runs it) over a MemoryShardIndex, the grace period read from the engine's
 * injected clock. A shard any live backup references is never swept; an unreferenced one only once a mark
 * made a full grace period earlier still covers it; one a backup reached between mark and sweep survives.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { collectMarkedRows, countWaiting, emptyShardReport, markUnreferencedShards } from '../../server/engine/maintenance/gc-shards';
import { assessMark, type OrphanMark } from '../../server/engine/maintenance/orphan-mark';
import { verifyBackup } from '../../server/engine/maintenance/verify';
import { memoryBackup, memoryWriter } from '../support/memory-backup';
import { type MemoryRepo, memoryRepo } from '../support/memory-repo';

const HOUR = 3_600_000;
const GRACE_HOURS = 24;

let repo: MemoryRepo | null = null;
afterEach(async () => {
  await repo?.close();
  repo = null;
});

/** A memory repo whose clock the test moves, and storage gc's shard-row runs on it (the mark kept here, not in settings). */
function gcRepo() {
  const r = memoryRepo({ config: { enable_encryption: false } });
  let clock = new Date('2026-03-01T00:00:00Z');
  r.ctx.now = () => clock;
  let mark: OrphanMark | null = null;
  /** One run, in sweepOrphans' order: a ripe mark's rows collected (or the waiting ones counted), then a new mark. */
  const run = async () => {
    const { state } = await assessMark(r.ctx, mark, GRACE_HOURS);
    const report = emptyShardReport();
    const swept: string[] = [];
    const collecting = mark && state.ripe ? new Date(mark.marked_at) : null;
    if (collecting) await collectMarkedRows(r.ctx, collecting, { dryRun: false, report }, async (gone) => void swept.push(...gone.map((g) => g.id)));
    else if (mark) await countWaiting(r.ctx, new Date(mark.marked_at), 'grace_period', report);
    if (state.canMark) {
      const at = r.ctx.now();
      report.marked = await markUnreferencedShards(r.ctx, at, { dryRun: false, collecting });
      mark = report.marked.shards ? { marked_at: at.toISOString(), running_backups_at_mark: [], candidates: {}, shards: report.marked.shards } : null;
    }
    return { swept: swept.sort(), report };
  };
  return { r, run, later: (hours: number) => void (clock = new Date(clock.getTime() + hours * HOUR)) };
}

const files = () => ({ 'one.bin': randomBytes(5000), 'two.bin': randomBytes(7000), 'three.bin': randomBytes(3000) });
const shardsOf = async (r: MemoryRepo, backupId: string) => (await r.index.backupShardIds(backupId)).sort();
const exists = async (r: MemoryRepo, ids: string[]) => [...(await r.index.records(ids)).keys()].sort();

describe('storage gc of shard rows on a memory index', () => {
  it('never sweeps a shard a live backup references, however many runs and grace periods pass', async () => {
    const g = gcRepo();
    repo = g.r;
    const data = files();
    await memoryBackup(repo, data, { id: 'b1' });
    const { row: live, shardOf } = await memoryBackup(repo, { 'one.bin': data['one.bin'] }, { id: 'b2' });
    const b1 = await shardsOf(repo, 'b1');
    const shared = (await shardsOf(repo, 'b2')).filter((id) => b1.includes(id));
    expect(shared).toContain(shardOf['one.bin']);
    repo.index.dropReferences('b1'); // b1 failed: its references go, its shards stay until gc

    const onlyB1 = b1.filter((id) => !shared.includes(id));
    expect((await g.run()).report.marked.shards).toBe(onlyB1.length);
    for (let i = 0; i < 3; i++) {
      g.later(GRACE_HOURS + 1);
      const { swept } = await g.run();
      expect(swept.filter((id) => shared.includes(id))).toEqual([]);
      if (i === 0) expect(swept).toEqual(onlyB1);
    }
    expect(await exists(repo, b1)).toEqual(shared);
    expect((await verifyBackup(repo.ctx, live, true)).status).toBe('healthy');
  });

  it('sweeps an unreferenced shard only once its mark is a full grace period old (the injected clock; no sleeping)', async () => {
    const g = gcRepo();
    repo = g.r;
    await memoryBackup(repo, files(), { id: 'b1' });
    const ids = await shardsOf(repo, 'b1');
    repo.index.dropReferences('b1');

    const first = await g.run();
    expect(first.swept).toEqual([]);
    expect(first.report.marked.shards).toBe(ids.length);
    g.later(GRACE_HOURS - 0.001);
    const early = await g.run();
    expect(early.swept).toEqual([]);
    expect(early.report.kept.reasons).toEqual({ grace_period: ids.length });
    expect(await exists(repo, ids)).toEqual(ids);
    g.later(0.001);
    expect((await g.run()).swept).toEqual(ids);
    expect(await exists(repo, ids)).toEqual([]);
  });

  it('a shard a backup reaches between mark and sweep survives; dropped again, it waits for a new mark and a full grace period', async () => {
    const g = gcRepo();
    repo = g.r;
    const data = files();
    const { shardOf } = await memoryBackup(repo, data, { id: 'b1' });
    const ids = await shardsOf(repo, 'b1');
    const reused = shardOf['two.bin']!;
    repo.index.dropReferences('b1');
    await g.run(); // marks them all
    expect(repo.index.gcMark(reused)).not.toBeNull();

    g.later(1);
    const w = memoryWriter(repo, 'b3');
    expect((await (await w.add(Buffer.from(data['two.bin']), 'data')).shard).id).toBe(reused); // deduplicated onto it
    await w.drain();
    expect(repo.index.gcMark(reused)).toBeNull();

    g.later(GRACE_HOURS);
    const sweep = await g.run();
    expect(sweep.swept).toEqual(ids.filter((id) => id !== reused));
    expect(await exists(repo, ids)).toEqual([reused]);

    repo.index.dropReferences('b3');
    const marked = await g.run(); // no ripe mark is left: this run marks it anew
    expect(marked.swept).toEqual([]);
    expect(marked.report.marked.shards).toBe(1);
    g.later(GRACE_HOURS - 1);
    expect((await g.run()).swept).toEqual([]);
    g.later(1);
    expect((await g.run()).swept).toEqual([reused]);
  });
});
