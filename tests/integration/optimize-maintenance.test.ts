/**
 * optimize_storage_locations runs in the daily maintenance, bounded by optimize_budget_gb_per_run: a run
 * copies about the budget, reports what it moved and what it left, and the next run finishes the job.
 */
import { sql } from 'drizzle-orm';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config';
import { BackupEngine } from '../../server/engine/engine';
import { MaintenanceJob } from '../../server/jobs/maintenance';
import { STORAGE_OPTIMIZE } from '../../server/jobs/run-worker';
import { makeEnv, type TestEnv } from '../support/engine-env';
import { makeTree } from '../support/tree';

const KiB = 1024;

describe('storage optimize in the daily maintenance', () => {
  let t: TestEnv;
  const engines: BackupEngine[] = [];
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await t?.cleanup();
  });

  it('moves replicas off a disabled location within the byte budget, leaving the rest for the next run', async () => {
    t = await makeEnv('embedded');
    const loc = (name: string, extra: Record<string, unknown> = {}) => ({ name, type: 'local', path: path.join(t.dir, name), region: 'eu', ...extra });
    const open = async (settings: Record<string, unknown>) => {
      await writeFile(t.env.PLEXICHAT_CONFIG!, JSON.stringify(settings));
      const e = await BackupEngine.open(loadConfig(t.env), { log: () => undefined });
      engines.push(e);
      return e;
    };
    const src = path.join(t.dir, 'src');
    await makeTree(src, { seed: 3, smallFiles: 200, bigFiles: [3 * 1024 * 1024] });
    const first = await open({ storage_locations: [loc('a'), loc('b')] });
    const b = await first.createBackup({ paths: [src] });
    const shards = await first.getShardMap(b.backup_id);
    const total = shards.reduce((n, s) => n + s.stored_size, 0);
    expect(shards.length).toBeGreaterThan(3);

    // b is retired, c replaces it; a budget of about a third of the data per run.
    const budgetGb = Math.ceil(total / 3 / KiB) / (1024 * 1024);
    const engine = await open({ storage_locations: [loc('a'), loc('b', { enabled: false }), loc('c')], optimize_budget_gb_per_run: budgetGb });
    const lines: string[] = [];
    let now = new Date('2030-01-01T00:00:00Z');
    const job = new MaintenanceJob(engine, 'w1', { now: () => now, log: (l) => lines.push(l), extras: [STORAGE_OPTIMIZE] });

    const one = await job.tick();
    expect(one?.error).toBeNull();
    const step = one!.steps!.find((s) => s.name === 'storage optimize')!;
    expect(step.summary).toMatch(/copy\(ies\) added \(\d+ bytes\), \d+ removed; \d+ shard\(s\) \(\d+ bytes of copies\) left for the next run: the budget of [\d.e-]+ GB was spent/);
    const audit = await engine.catalog.db.execute<{ details: Record<string, number> }>(sql`SELECT details FROM audit_events WHERE action = 'storage.optimize' ORDER BY id DESC LIMIT 1`);
    const d = audit.rows[0]!.details;
    expect(d.shards_left).toBeGreaterThan(0);
    expect(d.bytes_copied).toBeGreaterThan(0);
    // Within the budget, give or take the one copy under way when it ran out.
    const biggest = Math.max(...shards.map((s) => s.stored_size));
    expect(d.bytes_copied).toBeLessThanOrEqual(budgetGb * 1024 ** 3 + biggest);
    const onB = (await engine.getShardMap(b.backup_id)).filter((s) => s.replicas.some((r) => r.location === 'b')).length;
    expect(onB).toBeGreaterThan(0);
    expect(onB).toBeLessThan(shards.length);

    // Runs go on at each interval until nothing is left.
    for (let i = 0; i < 6; i++) {
      now = new Date(now.getTime() + 25 * 3_600_000);
      const next = await job.tick();
      expect(next?.error).toBeNull();
      if (/nothing left/.test(next!.steps!.find((s) => s.name === 'storage optimize')!.summary)) break;
    }
    for (const s of await engine.getShardMap(b.backup_id)) expect(s.replicas.map((r) => r.location).sort()).toEqual(['a', 'c']);
    expect(lines.some((l) => l.startsWith('maintenance: storage optimize: '))).toBe(true);
    expect((await engine.verifyBackup(b.backup_id, { readData: true })).status).toBe('healthy');
  }, 300_000);
});
