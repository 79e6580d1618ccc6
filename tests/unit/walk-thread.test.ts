/** The walk on the codec pool's scan thread: the same items as the walk on the main thread, bounded ahead, stoppable. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, linkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { walkSources, type SourceItem } from '../../server/engine/backup/source';
import { CodecPool } from '../../server/engine/repository/codec-pool';

async function collect(items: AsyncIterable<SourceItem>): Promise<SourceItem[]> {
  const out: SourceItem[] = [];
  for await (const it of items) out.push(it);
  return out;
}

describe('the walk on the scan thread', () => {
  const root = mkdtempSync(path.join(tmpdir(), 'walk-thread-'));
  const pool = new CodecPool();
  const walkOffThread = pool.walk.bind(pool);
  afterAll(async () => {
    await pool.close();
    rmSync(root, { recursive: true, force: true });
  });
  // More items than the thread may hold ahead (8 batches of 256), in 40 directories of 100 files.
  const tree = path.join(root, 'tree');
  for (let d = 0; d < 40; d++) {
    const dir = path.join(tree, `d${String(d).padStart(3, '0')}`);
    mkdirSync(dir, { recursive: true });
    for (let f = 0; f < 100; f++) writeFileSync(path.join(dir, `f${f}`), 'x'.repeat(f));
  }
  symlinkSync('d000/f1', path.join(tree, 'link'));
  linkSync(path.join(tree, 'd001', 'f5'), path.join(tree, 'hard'));
  execFileSync('mkfifo', [path.join(tree, 'd002', 'pipe')]);
  const sources = [{ abs: tree, rel: 'tree' }];

  it('yields what the walk on the main thread yields: same order, paths, stats, links and skips', async () => {
    const skippedHere: string[] = [];
    const skippedThere: string[] = [];
    const here = await collect(walkSources(sources, (abs) => skippedHere.push(abs), { xattrs: false }));
    const there = await collect(walkOffThread(sources, (abs) => skippedThere.push(abs)));
    expect(there.length).toBe(1 + 40 * 101 + 2);
    // A directory's atime moves when the first walk reads it (relatime): the one field that may differ.
    const noAtime = (items: SourceItem[]) => items.map(({ atimeNs, ...rest }) => (void atimeNs, rest));
    expect(noAtime(there)).toEqual(noAtime(here));
    expect(there.filter((it) => it.type !== 'd').map((it) => it.atimeNs)).toEqual(here.filter((it) => it.type !== 'd').map((it) => it.atimeNs));
    expect(typeof there[1]!.mtimeNs).toBe('bigint');
    expect(there.find((it) => it.rel === 'tree/hard')!.linkKey).toBe(here.find((it) => it.rel === 'tree/d001/f5')!.linkKey);
    expect(skippedThere).toEqual([path.join(tree, 'd002', 'pipe')]);
    expect(skippedThere).toEqual(skippedHere);
  });

  it('walks only a bounded number of items ahead of its consumer', async () => {
    const walk = walkOffThread([{ abs: tree, rel: '' }], () => undefined);
    const first = await walk.next();
    expect(first.value!.rel).toBe('d000');
    // The thread walks on until it is 8 batches ahead, then waits; the last directory is ~4,000 items away.
    await new Promise((r) => setTimeout(r, 300));
    writeFileSync(path.join(tree, 'd039', 'late'), 'late');
    const rest = await collect({ [Symbol.asyncIterator]: () => walk });
    rmSync(path.join(tree, 'd039', 'late'));
    expect(rest.map((it) => it.rel)).toContain('d039/late');
  });

  it('fails where the walk fails, after the items before the failure', async () => {
    const missing = path.join(root, 'missing');
    const small = path.join(tree, 'd003');
    const both = [
      { abs: small, rel: 'a' },
      { abs: missing, rel: 'b' },
    ];
    const got: string[] = [];
    const failure = await (async () => {
      for await (const it of walkOffThread(both, () => undefined)) got.push(it.rel);
    })().catch((err: Error) => err);
    const expected = await collect(walkSources([both[0]!], () => undefined, { xattrs: false }));
    expect(got).toEqual(expected.map((it) => it.rel));
    expect(failure).toBeInstanceOf(Error);
    expect((failure as Error).message).toContain(missing);
  });

  it('is stopped by a consumer that leaves early, and walks again afterwards', async () => {
    let n = 0;
    for await (const it of walkOffThread(sources, () => undefined)) {
      void it;
      if (++n === 10) break;
    }
    const again = await collect(walkOffThread([{ abs: path.join(tree, 'd004'), rel: '' }], () => undefined));
    expect(again.length).toBe(100);
  });

  it('fails, not hangs, when the pool closes during a walk', async () => {
    const own = new CodecPool();
    const walk = own.walk(sources, () => undefined);
    await walk.next();
    await own.close();
    await expect(collect({ [Symbol.asyncIterator]: () => walk })).rejects.toThrow(/stopped unexpectedly|closed/);
  });

  it('counts the files and bytes of a tree', async () => {
    const walked = await collect(walkSources(sources, () => undefined, { xattrs: false }));
    let totals: [number, number] = [0, 0];
    const count = pool.count(sources, (files, bytes) => (totals = [files, bytes]));
    await count.done;
    expect(totals).toEqual([walked.filter((it) => it.type === 'f').length, walked.reduce((s, it) => s + it.size, 0)]);
  });

  it('does not keep a process alive once its walk is done', () => {
    // The pool is not closed: its threads must not hold the process once the walk is over, nor let it end before.
    const script = `import { CodecPool } from ${JSON.stringify(path.resolve('server/engine/repository/codec-pool.ts'))};
      const pool = new CodecPool();
      let n = 0; for await (const _ of pool.walk([{ abs: ${JSON.stringify(tree)}, rel: '' }], () => {})) n++;
      console.log(n);`;
    const file = path.join(root, 'exits.mts');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, ['--import', 'tsx', file], { encoding: 'utf8', timeout: 30_000 });
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe(String(40 * 101 + 2));
    expect(r.status).toBe(0);
  });
});
