import { describe, expect, it } from 'vitest';
import type { Dataset } from '../../bench/datasets';
import { goalChecks } from '../../bench/goal-checks';
import { buildChecks, buildRows, renderReport, type Report, type Results } from '../../bench/report';
import type { GroupA, ToolResults } from '../../bench/scenarios';
import { settingsFromEnv } from '../../bench/settings';
import type { BackupFigures, OpFigures } from '../../bench/tool';

const MiB = 1024 * 1024;
const op = (seconds: number, rss: number, helper: number | null = null): OpFigures => ({
  seconds,
  peak_rss: rss * MiB,
  cpu_seconds: seconds,
  helper_peak_rss: helper === null ? null : helper * MiB,
  helper_cpu_seconds: helper === null ? null : 0.1,
  tool_seconds: null,
  other_cpu_seconds: 0,
});
const backup = (seconds: number, rss: number, helper: number | null = null): BackupFigures => ({ ...op(seconds, rss, helper), id: 'x', added_reported: 0, new_objects: null });
const verified = { ok: true, files_expected: 2, files_found: 2, bytes_checked: 100 * MiB, problems: [], seconds: 1 };

function group(backupS: number, restoreS: number, rebackupS: number, repoMiB: number, rss: number, helper: number | null): GroupA {
  return {
    start: op(1, rss, helper),
    settle: null,
    backup: backup(backupS, rss, helper),
    restore: { ...op(restoreS, rss, helper), verify: verified },
    rebackup: backup(rebackupS, rss, helper),
    storage: { files: 10, bytes: repoMiB * MiB },
  };
}
const run = (g: GroupA): ToolResults => ({ copies: 1, trees: { doc: g }, errors: [] });
const tree: Dataset = { name: 'doc', dir: '/tmp/t/doc', files: 2, bytes: 100 * MiB, sumsFile: null, generatedSeconds: 1, extra: { symlinks: 0 }, source: '/usr/share/doc' };

describe('bench report on a real tree', () => {
  // PlexiChat: backups of 10, 12 and 11 s; restic 5.5 s every run.
  const results: Results = {
    plexichat: [group(10, 4, 2, 50, 100, 300), group(12, 4, 2, 50, 100, 300), group(11, 4, 2, 50, 100, 300)].map(run),
    restic: [group(5.5, 8, 1, 40, 80, null), group(5.5, 8, 1, 40, 80, null), group(5.5, 8, 1, 40, 80, null)].map(run),
  };
  const rows = buildRows(null, [tree], results);
  const row = (prefix: string) => rows.find((r) => r.metric.trimStart().startsWith(prefix))!;

  it('orients every ratio so that ≥ 1 means PlexiChat is better', () => {
    expect(row('[tree] /usr/share/doc').ratios.restic).toBeCloseTo(0.5); // restic 5.5 s ÷ PlexiChat 11 s
    expect(row('restore (verified').ratios.restic).toBeCloseTo(2); // 8 s ÷ 4 s
    expect(row('restore throughput').ratios.restic).toBeCloseTo(2); // 25 MiB/s ÷ 12.5 MiB/s
    expect(row('repository on disk').ratios.restic).toBeCloseTo(0.8);
    // The whole installation: command 100 + catalog server 300 MiB against restic's 80 MiB.
    expect(row('backup, peak memory').values.plexichat?.median).toBe(400);
    expect(row('backup, peak memory').ratios.restic).toBeCloseTo(0.2);
    expect(row('backup, of which catalog server').ratios.restic).toBeNull();
  });

  it('prints the median with the min–max of the runs, a column per tool and one per ratio', () => {
    const report: Report = {
      generated_at: '',
      total_seconds: 60,
      settings: settingsFromEnv({ NODE_ENV: 'test', BENCH_RESTIC: '0', BENCH_BORG: '0' }),
      machine: { nproc: 2, cpu_model: '', mem_total_bytes: 0, kernel: '', node_version: 'v20', restic_version: 'restic 0.14.0', borg_version: null, plexichat_commit: null },
      page_cache_dropped: true,
      datasets: null,
      trees: [tree],
      rows,
      checks: buildChecks(results, [tree]),
      other_cpu_share: 0.42,
      results,
    };
    const text = renderReport(report);
    expect(text).toMatch(/\| metric +\| unit +\| +plexichat \| +restic \| vs restic \|/);
    expect(text).toMatch(/\[tree\] \/usr\/share\/doc 100 MiB, 2 files: backup +\| s +\| 11.0 \(10.0–12.0\) \| +5.50 \| +0.50 \|/);
    expect(text).toContain('Other processes on the machine used 42% of its CPU');
    expect(text).toContain('PASS  plexichat restore [tree] doc identical to the source (3 of 3 runs)');
  });
});

describe("bench checks of issue 13's goal", () => {
  const checks = (px: GroupA, restic: GroupA | null) => {
    const results: Results = { plexichat: [run(px), run(px)], ...(restic ? { restic: [run(restic), run(restic)] } : {}) };
    const list = goalChecks(buildRows(null, [tree], results), results);
    return (word: string) => list.find((c) => c.name.includes(word));
  };

  it('fails a row slower than restic, a repository over 3 % larger and a footprint over 250 MiB, naming each', () => {
    // PlexiChat: backup 11 s against 5.5, repository 50 MiB against 40, command 100 + catalog server 300 MiB.
    const c = checks(group(11, 4, 2, 50, 100, 300), group(5.5, 8, 3, 40, 80, null));
    expect(c('time and throughput')).toMatchObject({ ok: false });
    expect(c('time and throughput')!.detail).toContain('[tree] /usr/share/doc 100 MiB: backup 0.50');
    expect(c('time and throughput')!.detail).not.toContain('restore');
    expect(c('repository')).toMatchObject({ ok: false });
    expect(c('repository')!.detail).toContain('repository on disk, all copies 0.80');
    expect(c('footprint')).toMatchObject({ ok: false });
    expect(c('footprint')!.detail).toContain('[tree] doc backup run 1 400 MiB');
  });

  it('passes when every figure holds, judging times (not CPU) and the catalog server by its private memory', () => {
    const px = group(5, 4, 1, 41, 150, 120);
    for (const op of [px.backup, px.rebackup]) {
      op.helper_peak_private = 60 * MiB; // 150 + 60 = 210 MiB; with its whole RSS it would be 270
      op.cpu_seconds = 50; // ten times restic's CPU: shown in the table, not judged
    }
    const c = checks(px, group(5.5, 8, 1, 40, 80, null));
    expect(c('time and throughput')).toMatchObject({ ok: true, detail: expect.stringContaining('the lowest 1.00 ([tree] /usr/share/doc 100 MiB: unchanged re-backup)') });
    expect(c('repository')).toMatchObject({ ok: true }); // 41 MiB against 40: 2.5 % larger
    expect(c('footprint')).toMatchObject({ ok: true, detail: '4 backups; the largest 210 MiB ([tree] doc backup, run 1)' });
  });

  it('judges only the footprint when restic did not run', () => {
    const c = checks(group(5, 4, 1, 41, 150, 50), null);
    expect(c('time and throughput')).toBeUndefined();
    expect(c('footprint')).toMatchObject({ ok: true });
  });
});
