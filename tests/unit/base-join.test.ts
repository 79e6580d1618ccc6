/**
 * A backup's walk read side by side with its base's manifest: the walk's order as a comparison (checked
 * against the real walk of a tree with names that sort differently whole and by component), and the join
 * that finds each walked file's base version by reading the manifest forward, without ever matching a file
 * to an entry of another path.
 */
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BaseJoin, READ_ON } from '../../server/engine/backup/base-join';
import { walkSources } from '../../server/engine/backup/source';
import { walkOrder } from '../../server/engine/backup/walk-order';
import type { ManifestEntry } from '../../server/engine/repository/manifest';

/** Names whose order differs between whole paths and components ('-' and '.' sort before '/'), case, digits, non-ASCII. */
const NAMES = ['a', 'a-b', 'a.b', 'a b', 'B', 'b', '10', '9', 'é', 'z', '_'];

let root: string;
beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'pb-join-'));
  await writeFile(path.join(root, 'file.txt'), 'x');
  for (const top of ['one', 'two']) {
    for (const n of NAMES) {
      // 'a' and 'b' are directories holding every name again and a nested directory; the others are files.
      if (n !== 'a' && n !== 'b') {
        await mkdir(path.join(root, top), { recursive: true });
        await writeFile(path.join(root, top, n), n);
        continue;
      }
      await mkdir(path.join(root, top, n, 'sub'), { recursive: true });
      await writeFile(path.join(root, top, n, 'sub', 'deep'), 'd');
      for (const m of NAMES) await writeFile(path.join(root, top, n, m), m);
    }
    await symlink('a', path.join(root, top, 'link'));
  }
});
afterAll(async () => rm(root, { recursive: true, force: true }));

async function walked(sources: { abs: string; rel: string }[]): Promise<string[]> {
  const out: string[] = [];
  for await (const it of walkSources(sources, () => undefined)) out.push(it.rel);
  return out;
}

/** A deterministic shuffle. */
function shuffled<T>(xs: T[], seed = 7): T[] {
  const a = [...xs];
  let s = seed;
  for (let i = a.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

describe('walk order', () => {
  it('sorts paths exactly as the walk yields them: one directory, several sources in the order given, a file source', async () => {
    const layouts = [
      [{ abs: path.join(root, 'one'), rel: '' }],
      [
        { abs: path.join(root, 'two'), rel: 'two' },
        { abs: path.join(root, 'file.txt'), rel: 'file.txt' },
        { abs: path.join(root, 'one'), rel: 'one' },
      ],
    ];
    for (const sources of layouts) {
      const order = await walked(sources);
      expect(order.length).toBeGreaterThan(20);
      const cmp = walkOrder(sources.map((s) => s.rel));
      expect(shuffled(order).sort(cmp)).toEqual(order);
      expect([...order].sort()).not.toEqual(order); // plain string order would not do
    }
  });
});

const f = (p: string, s = 1): ManifestEntry => ({ p, t: 'f', m: 0o644, mt: 1, s, x: [[0, 0, s]] });
const d = (p: string): ManifestEntry => ({ p, t: 'd', m: 0o755, mt: 1 });

/** The entries in batches of the sizes `sizes` gives in turn (0: an empty batch), failing at entry `failAt`. */
async function* stream(entries: ManifestEntry[], failAt = Infinity, sizes = BATCHES): AsyncGenerator<ManifestEntry[]> {
  let batch: ManifestEntry[] = [];
  let turn = 0;
  for (let i = 0; i < entries.length; i++) {
    if (i === failAt) {
      if (batch.length) yield batch; // what came before the damaged shard was read
      throw new Error('shard 1234 is damaged');
    }
    while (batch.length >= sizes[turn % sizes.length]!) {
      yield batch;
      batch = [];
      turn++;
    }
    batch.push(entries[i]!);
  }
  if (batch.length) yield batch;
}
/** Batch sizes that put batch ends everywhere: at a match, between a directory and its files, empty batches. */
const BATCHES = [2, 0, 1, 3];

/** Runs a join over walked paths (a trailing '/' marks a directory); returns matches and what was passed. */
async function run(manifest: ManifestEntry[], walk: string[], opts: { failAt?: number; tolerant?: boolean; sizes?: number[]; now?: boolean } = {}) {
  const passed: [string, boolean][] = [];
  const join = new BaseJoin(stream(manifest, opts.failAt, opts.sizes), walkOrder(['']), (e, m) => passed.push([e.p, m]), opts.tolerant);
  const matched: [string, number | undefined][] = [];
  for (const w of walk) {
    const isFile = !w.endsWith('/');
    const rel = isFile ? w : w.slice(0, -1);
    // As the backup asks: from the batch in hand first (matchNow), reading on only when it is used up.
    let b = opts.now === false ? READ_ON : join.matchNow(rel, isFile);
    if (b === READ_ON) b = await join.match(rel, isFile);
    matched.push([w, b?.s]);
  }
  await join.finish();
  return { matched, passed, failure: join.failure };
}

describe('base join', () => {
  it('finds each file at its path, and passes every base file once: kept, gone, or no longer a file', async () => {
    const manifest = [d('a'), f('a/x', 1), f('a/y', 2), f('a-b', 3), f('c', 4), d('d'), f('d/z', 5), f('e', 6), f('q', 7)];
    const r = await run(manifest, ['a/', 'a/x', 'a/new', 'a-b', 'c/', 'c/inside', 'd/', 'd/z', 'e']);
    expect(r.matched).toEqual([['a/', undefined], ['a/x', 1], ['a/new', undefined], ['a-b', 3], ['c/', undefined], ['c/inside', undefined], ['d/', undefined], ['d/z', 5], ['e', 6]]);
    expect(r.passed).toEqual([['a/x', true], ['a/y', false], ['a-b', true], ['c', false], ['d/z', true], ['e', true], ['q', false]]);
  });

  it('answers the same however the manifest is cut into batches, from the batch in hand or reading on', async () => {
    const manifest = [d('a'), f('a/x', 1), f('a/y', 2), f('a-b', 3), f('c', 4), d('d'), f('d/z', 5), f('e', 6), f('q', 7)];
    const walk = ['a/', 'a/x', 'a/new', 'a-b', 'c/', 'c/inside', 'd/', 'd/z', 'e'];
    const expected = await run(manifest, walk, { sizes: [manifest.length], now: false });
    for (const sizes of [[1], [2], [3], [0, 1], [4, 0, 0, 2], [100]]) {
      for (const now of [true, false]) expect(await run(manifest, walk, { sizes, now })).toEqual(expected);
    }
  });

  it('never matches a file to an entry of another path when the manifest is out of order: it only misses', async () => {
    const walk = ['a', 'b', 'c', 'd', 'e'];
    const manifest = [f('c', 3), f('a', 1), f('e', 5), f('b', 2), f('d', 4)];
    const r = await run(manifest, walk);
    for (const [p, s] of r.matched) if (s !== undefined) expect(s).toBe(walk.indexOf(p) + 1);
    expect(r.passed.map(([p]) => p).sort()).toEqual(walk);
  });

  it('fails the lookup when the base cannot be read, and for a previous backup ends the join instead', async () => {
    const manifest = [f('a', 1), f('b', 2), f('c', 3)];
    await expect(run(manifest, ['a', 'b', 'c'], { failAt: 1 })).rejects.toThrow('shard 1234 is damaged');
    const r = await run(manifest, ['a', 'b', 'c'], { failAt: 1, tolerant: true });
    expect(r.matched).toEqual([['a', 1], ['b', undefined], ['c', undefined]]);
    expect(r.failure?.message).toBe('shard 1234 is damaged');
  });
});
