/** The four datasets, generated from fixed seeds: the same scale always gives the same bytes. */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { chatJson } from '../tests/support/tree';
import { BlockRng } from './rng';
import { FILES_PER_DIR, SHIFT, SMALL_TREE, type SizeClass } from './settings';
import { TreeWriter } from './tree-writer';

/** Average bytes of one chatJson message, to turn a target size into a message count. */
const BYTES_PER_MESSAGE = 159;

interface PlannedFile {
  rel: string;
  size: number;
}

/** Draws file sizes class by class until each class has its share of `total` bytes. */
export function planFiles(rng: BlockRng, mix: SizeClass[], total: number, ext: string): PlannedFile[] {
  const out: PlannedFile[] = [];
  for (const cls of mix) {
    let budget = Math.round(cls.share * total);
    for (let i = 0; budget > 0; i++) {
      const size = Math.min(budget, rng.logSize(cls.min, cls.max));
      budget -= size;
      const dir = cls.name === 'small' ? `/d${pad(Math.floor(i / FILES_PER_DIR), 3)}` : '';
      out.push({ rel: `${cls.name}${dir}/f${pad(i, 5)}.${ext}`, size });
    }
  }
  return out;
}

/** (a) Random bytes: nothing to compress, nothing to deduplicate. */
export async function writeIncompressible(root: string, mix: SizeClass[], total: number): Promise<TreeWriter> {
  const plan = planFiles(new BlockRng(101), mix, total, 'bin');
  const rng = new BlockRng(102);
  const w = new TreeWriter(root, true);
  for (const f of plan) await w.write(f.rel, rng.bytes(f.size));
  await w.done();
  return w;
}

/** (b) Chat exports: JSON arrays of messages, compressible about 3–4×. */
export async function writeJson(root: string, mix: SizeClass[], total: number): Promise<TreeWriter> {
  const plan = planFiles(new BlockRng(201), mix, total, 'json');
  const rng = new BlockRng(202);
  const w = new TreeWriter(root, true);
  for (const f of plan) await w.write(f.rel, chatJson(rng, Math.max(1, Math.round(f.size / BYTES_PER_MESSAGE))));
  await w.done();
  return w;
}

/**
 * (c) A copy of (b) with a few bytes inserted near the start of every file (whitespace after the opening
 * bracket, so it stays valid JSON), and a block in the middle of 1% of the files rewritten.
 */
export async function writeShifted(source: string, root: string, rels: string[]): Promise<{ writer: TreeWriter; changed: number }> {
  const rng = new BlockRng(301);
  const changedCount = Math.max(1, Math.round(rels.length * SHIFT.changedShare));
  const changed = new Set<number>();
  while (changed.size < Math.min(changedCount, rels.length)) changed.add(rng.int(0, rels.length - 1));
  const w = new TreeWriter(root, false);
  for (const [i, rel] of rels.entries()) {
    const original = await readFile(path.join(source, ...rel.split('/')));
    const insert = Buffer.alloc(rng.int(SHIFT.minInsert, SHIFT.maxInsert), ' ');
    const data = Buffer.concat([original.subarray(0, 1), insert, original.subarray(1)]);
    if (changed.has(i)) {
      const len = Math.min(SHIFT.changedBytes, Math.floor(data.length / 2));
      const at = Math.floor((data.length - len) / 2);
      chatJson(rng, Math.ceil(len / 60) + 1).copy(data, at, 0, len);
    }
    await w.write(rel, data);
  }
  await w.done();
  return { writer: w, changed: changed.size };
}

/** (d) Many small files (a third chat JSON, the rest random), `perDir` to a directory. */
export async function writeSmallTree(root: string, files: number): Promise<TreeWriter> {
  const rng = new BlockRng(401);
  const w = new TreeWriter(root, false, 128);
  for (let i = 0; i < files; i++) {
    const size = rng.int(SMALL_TREE.min, SMALL_TREE.max);
    const data = i % 3 === 0 ? chatJson(rng, Math.max(1, Math.floor(size / 80))).subarray(0, size) : rng.bytes(size);
    await w.write(`d${pad(Math.floor(i / SMALL_TREE.perDir), 4)}/f${pad(i, 6)}.dat`, data);
  }
  await w.done();
  return w;
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}
