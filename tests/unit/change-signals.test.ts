import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { assessChange, changeHistory, CHANGE_RULE } from '../../server/engine/backup/change-rule';
import { ChangeTracker, type ChangeSummary } from '../../server/engine/backup/change-summary';
import { count, countEngine, countJs, ENTROPY_WINDOW, EntropySampler, entropyOf, entropyOfBytes } from '../../server/engine/backup/entropy';
import { Rng } from '../support/tree';
import type { ManifestEntry } from '../../server/engine/repository/manifest';
import { planPrune, type PruneCandidate } from '../../server/engine/maintenance/retention';
import { jpegLike, logLines, prose, seeded, zipLike } from '../support/change-patterns';

/** The sample the backup stores for a file's bytes, fed in blocks the way the backup reads them. */
function sample(data: Buffer, block = 1 << 20): number | undefined {
  const s = new EntropySampler(data.length);
  for (let i = 0; i < data.length; i += block) s.feed(data.subarray(i, i + block));
  return s.result() ?? undefined;
}

/** A file's sample is taken once per version (as the manifest keeps it), not again at every comparison. */
const samples = new WeakMap<Buffer, number | undefined>();
function stored(data: Buffer): number | undefined {
  if (!samples.has(data)) samples.set(data, sample(data));
  return samples.get(data);
}

type Tree = Map<string, Buffer>;

/** The summary of a backup of `now` compared with `before` (a file is unchanged when it is the same Buffer). */
function compare(before: Tree, now: Tree): ChangeSummary {
  const entry = (p: string, b: Buffer): ManifestEntry => ({ p, t: 'f', m: 0o644, mt: 0, s: b.length, en: stored(b) });
  const t = new ChangeTracker('prev');
  for (const [p, b] of before) t.previous(entry(p, b), now.has(p));
  for (const [p, b] of now) t.file(entry(p, b), before.get(p) === b, before.has(p) ? entry(p, before.get(p)!) : undefined);
  return t.summary();
}

function textTree(rand: () => number, n: number): Tree {
  const tree: Tree = new Map();
  for (let i = 0; i < n; i++) tree.set(`docs/d${i}.txt`, prose(rand, 1000 + Math.floor(rand() * 3000)));
  return tree;
}

describe('entropy samples', () => {
  it('counts bytes in WebAssembly exactly as the JavaScript loop does', () => {
    expect(countEngine()).toBe('webassembly');
    const rng = new Rng(17);
    const data = Buffer.concat([rng.bytes(400_000), Buffer.from('{"user":"u1","text":"hello"}\n'.repeat(8000))]);
    for (let k = 0; k < 300; k++) {
      const from = rng.int(0, data.length - 1);
      const to = Math.min(data.length, from + rng.int(0, 200_000));
      const want = new Uint32Array(256).fill(k);
      const got = new Uint32Array(256).fill(k);
      expect(count(got, data, from, to)).toBe(countJs(want, data, from, to));
      expect(got, `range [${from}, ${to})`).toEqual(want);
    }
  });

  it('scores random data near 8 and text near 4–5, also for small files', () => {
    const rand = seeded(1);
    for (const size of [512, 1024, 4096, 300_000]) {
      expect(sample(randomBytes(size))!).toBeGreaterThanOrEqual(750);
      expect(sample(prose(rand, size))!).toBeLessThan(600);
    }
    expect(sample(randomBytes(100))).toBeUndefined(); // too small to judge
    expect(entropyOfBytes(Buffer.alloc(1000, 7))).toBe(0);
  });

  it('counts every byte of each window exactly once, whatever the lengths and the block size', () => {
    const rand = seeded(9);
    for (const size of [257, 1023, 4099, 2 * ENTROPY_WINDOW + 3, 200_003]) {
      const data = Buffer.concat([prose(rand, size >> 1), randomBytes(size - (size >> 1))]);
      // Byte by byte, the windows as documented: the first (two windows when the file is no longer), and the middle one.
      const windows = size > 2 * ENTROPY_WINDOW ? [data.subarray(0, ENTROPY_WINDOW), data.subarray((size >> 1) - ENTROPY_WINDOW / 2, (size >> 1) + ENTROPY_WINDOW / 2)] : [data];
      const scores = windows.map((w) => {
        const hist = new Uint32Array(256);
        for (const b of w) hist[b]!++;
        return entropyOf(hist, w.length);
      });
      const expected = Math.round(Math.min(...scores) * 100);
      for (const block of [1, 3, 7, 4097, 1 << 20]) expect(sample(data, block)).toBe(expected);
    }
  });

  it('gives a reused sampler the same result as a new one for each file', () => {
    const rand = seeded(10);
    const files = [randomBytes(3 * ENTROPY_WINDOW), prose(rand, 5000), Buffer.alloc(0), prose(rand, 4 * ENTROPY_WINDOW), randomBytes(300)];
    const reused = new EntropySampler(0);
    for (const f of files) {
      reused.reset(f.length).feed(f);
      expect(reused.result() ?? undefined).toBe(sample(f));
    }
  });

  it('keeps the lower of the first and the middle window, whatever the block size', () => {
    const rand = seeded(2);
    // Text with a random middle (or the reverse) is not taken for encrypted.
    const mixed = Buffer.concat([prose(rand, 3 * ENTROPY_WINDOW), randomBytes(2 * ENTROPY_WINDOW), prose(rand, 3 * ENTROPY_WINDOW)]);
    expect(sample(mixed)!).toBeLessThan(600);
    expect(sample(mixed, 4096)).toBe(sample(mixed));
    const reverse = Buffer.concat([randomBytes(ENTROPY_WINDOW), prose(rand, 6 * ENTROPY_WINDOW)]);
    expect(sample(reverse)!).toBeLessThan(600);
  });
});

describe('the change rule', () => {
  it('flags files rewritten with random bytes', () => {
    const rand = seeded(3);
    const before = textTree(rand, 100);
    const now: Tree = new Map(before);
    let i = 0;
    for (const [p, b] of before) if (i++ < 40) now.set(p, randomBytes(b.length));
    const s = compare(before, now);
    expect(s.entropy_jumps).toBe(40);
    const v = assessChange(s, null);
    expect(v.suspicious).toBe(true);
    expect(v.reasons[0]).toMatch(/^40 of 100 files \(40 %\)/);
    expect(s.examples).toHaveLength(5);
  });

  it('flags mass encryption renamed to one new extension, and names the extension', () => {
    const rand = seeded(4);
    const before = textTree(rand, 100);
    const now: Tree = new Map();
    let i = 0;
    for (const [p, b] of before) now.set(i++ < 70 ? `${p}.locked` : p, i <= 70 ? randomBytes(b.length) : b);
    const s = compare(before, now);
    expect(s).toMatchObject({ renamed_files: 70, removed_files: 70, new_files: 70, entropy_jumps: 70, top_new_extension: { ext: '.locked', files: 70 } });
    const v = assessChange(s, null);
    expect(v.reasons).toHaveLength(2);
    expect(v.reasons[1]).toContain('renamed to the extension .locked');
  });

  it('flags a mass rename to one new extension even when the content was not measured as random', () => {
    const rand = seeded(5);
    const before = textTree(rand, 50);
    const now: Tree = new Map([...before].map(([p, b]) => [p.replace(/\.txt$/, '.crypt'), b]));
    const v = assessChange(compare(before, now), null);
    expect(v.suspicious).toBe(true);
    expect(v.reasons[0]).toContain('.crypt');
  });

  it('does not flag ordinary edits, growing logs, or compressed media replaced by compressed media', () => {
    const rand = seeded(6);
    const before: Tree = textTree(rand, 40);
    for (let i = 0; i < 20; i++) before.set(`logs/app${i}.log`, logLines(rand, 5000));
    for (let i = 0; i < 40; i++) before.set(`photos/p${i}.jpg`, jpegLike(50_000));
    for (let i = 0; i < 20; i++) before.set(`archive/a${i}.zip`, zipLike(rand, 20_000));
    const now: Tree = new Map(before);
    for (const [p, b] of before) {
      if (p.startsWith('docs/')) now.set(p, Buffer.concat([b.subarray(0, 500), prose(rand, 800), b.subarray(500)])); // every document edited
      if (p.startsWith('logs/')) now.set(p, Buffer.concat([b, logLines(rand, 200_000)])); // every log grew
      if (p.startsWith('photos/')) now.set(p, jpegLike(60_000)); // every photo re-encoded
      if (p.startsWith('archive/')) now.set(p, zipLike(rand, 25_000)); // every archive rebuilt
    }
    const s = compare(before, now);
    expect(s.changed_files).toBe(120);
    expect(s.entropy_jumps).toBe(0);
    expect(assessChange(s, null).suspicious).toBe(false);
  });

  it('does not flag a few documents converted to a compressed format', () => {
    const rand = seeded(7);
    const before = textTree(rand, 100);
    const now: Tree = new Map(before);
    for (let i = 0; i < 8; i++) {
      now.delete(`docs/d${i}.txt`);
      now.set(`docs/d${i}.pdf`, zipLike(rand, 2000));
    }
    const s = compare(before, now);
    expect(s).toMatchObject({ renamed_files: 8, entropy_jumps: 8 });
    expect(assessChange(s, null).suspicious).toBe(false);
  });

  it('does not judge sources too small for a share to mean anything', () => {
    const rand = seeded(8);
    const before = textTree(rand, CHANGE_RULE.minFiles - 1);
    const now: Tree = new Map([...before].map(([p, b]) => [p, randomBytes(b.length)]));
    expect(assessChange(compare(before, now), null).suspicious).toBe(false);
  });

  it('flags a smaller share of files turning random when the backup changed far more than this source usually does', () => {
    const rand = seeded(9);
    const before = textTree(rand, 200);
    const now: Tree = new Map(before);
    let i = 0;
    for (const [p, b] of before) if (i++ < 50) now.set(p, randomBytes(b.length)); // 25 %: under the plain threshold
    const s = compare(before, now);
    expect(assessChange(s, null).suspicious).toBe(false);
    const quiet = changeHistory(Array.from({ length: 5 }, () => ({ ...s, changed_files: 2, new_files: 0 })));
    expect(quiet!.median_changed_share).toBe(0.01);
    const v = assessChange(s, quiet);
    expect(v.suspicious).toBe(true);
    expect(v.reasons[0]).toContain('against a usual 1 %');
  });

  it('has no false positive over 120 backups of a realistic change pattern', () => {
    // 600 files: documents edited a few at a time (sometimes most of them reformatted), logs that grow
    // and rotate, photos and archives replaced, added and deleted, a folder renamed now and then, and a
    // batch of documents converted to PDF.
    const rand = seeded(10);
    const pick = <T,>(xs: T[]) => xs[Math.floor(rand() * xs.length)]!;
    let tree: Tree = textTree(rand, 300);
    for (let i = 0; i < 50; i++) tree.set(`logs/s${i}.log`, logLines(rand, 2000 + Math.floor(rand() * 20_000)));
    for (let i = 0; i < 150; i++) tree.set(`photos/p${i}.jpg`, jpegLike(20_000 + Math.floor(rand() * 100_000)));
    for (let i = 0; i < 100; i++) tree.set(`archive/a${i}.zip`, zipLike(rand, 5000 + Math.floor(rand() * 10_000)));
    let flagged = 0;
    let next = 1000;
    const summaries: ChangeSummary[] = [];
    const rounds = 120;
    for (let round = 0; round < rounds; round++) {
      const now: Tree = new Map(tree);
      const paths = [...now.keys()];
      const docs = paths.filter((p) => p.startsWith('docs/'));
      const bulk = rand() < 0.05;
      for (const p of docs) if (rand() < (bulk ? 0.6 : 0.03)) now.set(p, Buffer.concat([prose(rand, 200), now.get(p)!.subarray(100)]));
      for (const p of paths.filter((x) => x.endsWith('.log'))) {
        if (rand() < 0.1) now.set(p, logLines(rand, 500)); // rotated
        else if (rand() < 0.5) now.set(p, Buffer.concat([now.get(p)!, logLines(rand, 200 + Math.floor(rand() * 5000))]));
      }
      for (const p of paths.filter((x) => x.endsWith('.jpg') || x.endsWith('.zip'))) {
        if (rand() < (bulk ? 0.3 : 0.05)) now.set(p, p.endsWith('.jpg') ? jpegLike(20_000 + Math.floor(rand() * 100_000)) : zipLike(rand, 5000 + Math.floor(rand() * 10_000)));
      }
      for (let i = Math.floor(rand() * 10); i > 0; i--) now.set(`photos/new${next++}.jpg`, jpegLike(30_000));
      for (let i = Math.floor(rand() * 5); i > 0; i--) now.delete(pick([...now.keys()]));
      if (rand() < 0.03) {
        for (const p of [...now.keys()].filter((x) => x.startsWith('archive/'))) {
          now.set(p.replace('archive/', 'archive-2026/'), now.get(p)!);
          now.delete(p);
        }
      }
      if (rand() < 0.03) {
        for (const p of docs.slice(0, 20)) {
          if (!now.has(p)) continue;
          now.set(p.replace(/\.txt$/, '.pdf'), zipLike(rand, now.get(p)!.length));
          now.delete(p);
        }
      }
      const s = compare(tree, now);
      if (assessChange(s, changeHistory(summaries.slice(-10))).suspicious) flagged++;
      summaries.push(s);
      tree = now;
    }
    console.log(`false positives: ${flagged} of ${rounds} backups (${(flagged / rounds) * 100} %)`);
    expect(flagged).toBe(0);
  }, 60_000);
});

describe('retention around a suspicious backup', () => {
  const b = (id: string, day: number, extra: Partial<PruneCandidate> = {}): PruneCandidate => ({
    backup_id: id,
    group: 'g',
    completed_at: `2026-01-${String(day).padStart(2, '0')}T02:00:00Z`,
    expires_at: `2026-01-${String(day + 2).padStart(2, '0')}T02:00:00Z`,
    status: 'completed',
    ...extra,
  });
  const now = new Date('2026-01-20T00:00:00Z');

  it('keeps the unacknowledged suspicious backup and the last good one before it, whatever expired', () => {
    const list = [b('d5', 5, { suspicious: true }), b('d4', 4), b('d3', 3), b('other', 1, { group: 'h' })];
    const p = planPrune(list, {}, now);
    expect(p.remove.map((r) => r.backup_id).sort()).toEqual(['d3', 'other']);
    const kept = Object.fromEntries(p.keep.map((k) => [k.backup_id, k.reasons]));
    expect(kept.d4).toEqual(['last good backup before suspicious backup d5: kept until an admin acknowledges it']);
    expect(kept.d5![0]).toContain('not yet acknowledged');
    // Keep rules too: keep-last 1 would keep d5 only.
    const ruled = planPrune(list, { keepLast: 1 }, now);
    expect(ruled.keep.find((k) => k.backup_id === 'd4')?.reasons).toEqual(['last good backup before suspicious backup d5: kept until an admin acknowledges it']);
  });

  it('skips suspicious backups when looking for the last good one, and lets go once acknowledged', () => {
    const list = [b('d6', 6, { suspicious: true }), b('d5', 5, { suspicious: true, acknowledged: true }), b('d4', 4), b('d3', 3)];
    expect(planPrune(list, {}, now).keep.map((k) => k.backup_id).sort()).toEqual(['d4', 'd6']);
    const acked = list.map((x) => ({ ...x, acknowledged: x.suspicious ? true : undefined }));
    expect(planPrune(acked, {}, now).keep).toEqual([]);
  });
});
