/** Deterministic (seeded) test data: trees of files with the shapes backups meet in practice. */
import { type Cipher, createCipheriv, createHash } from 'node:crypto';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A seeded byte stream (AES-128-CTR keystream): fast, deterministic, and not periodic at test sizes. */
export class Rng {
  private readonly cipher: Cipher;
  constructor(seed: number) {
    const key = createHash('sha256').update(`seed:${seed}`).digest().subarray(0, 16);
    this.cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  }
  bytes(n: number): Buffer {
    return this.cipher.update(Buffer.alloc(n));
  }
  next(): number {
    return this.bytes(4).readUInt32LE(0) / 4294967296;
  }
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
}

const WORDS = ['backup', 'shard', 'replica', 'message', 'channel', 'hello', 'world', 'plexichat', 'server', 'user', 'онлайн', '你好', 'café'];

export function chatJson(rng: Rng, messages: number): Buffer {
  const out: string[] = [];
  for (let i = 0; i < messages; i++) {
    const words = Array.from({ length: rng.int(3, 20) }, () => WORDS[rng.int(0, WORDS.length - 1)]).join(' ');
    out.push(JSON.stringify({ id: rng.int(1, 1e9), channel: `#c${rng.int(1, 50)}`, user: `u${rng.int(1, 500)}`, ts: 1700000000 + i, text: words }));
  }
  return Buffer.from(`[${out.join(',\n')}]`);
}

export interface TreeSpec {
  seed: number;
  smallFiles?: number;
  smallMin?: number;
  smallMax?: number;
  bigFiles?: number[];
  unicode?: boolean;
  empties?: boolean;
  symlinks?: boolean;
  perDir?: number;
}

/** Writes a tree and returns the number of files written. */
export async function makeTree(root: string, spec: TreeSpec): Promise<number> {
  const rng = new Rng(spec.seed);
  await mkdir(root, { recursive: true });
  let files = 0;
  const perDir = spec.perDir ?? 500;
  const small = spec.smallFiles ?? 0;
  for (let i = 0; i < small; i++) {
    const dir = path.join(root, `d${Math.floor(i / perDir)}`);
    if (i % perDir === 0) await mkdir(dir, { recursive: true });
    const size = rng.int(spec.smallMin ?? 1, spec.smallMax ?? 4096);
    const data = i % 3 === 0 ? chatJson(rng, Math.max(1, Math.floor(size / 80))).subarray(0, size) : rng.bytes(size);
    await writeFile(path.join(dir, `f${i}.dat`), data);
    files++;
  }
  for (const [i, size] of (spec.bigFiles ?? []).entries()) {
    await writeFile(path.join(root, `big-${i}.bin`), rng.bytes(size));
    files++;
  }
  if (spec.unicode) {
    await mkdir(path.join(root, 'ünïcödé ディレクトリ'), { recursive: true });
    await writeFile(path.join(root, 'ünïcödé ディレクトリ', 'файл 📦.txt'), 'unicode content ✓\n');
    await writeFile(path.join(root, 'spaces and \'quotes\'.txt'), 'q');
    files += 2;
  }
  if (spec.empties) {
    await mkdir(path.join(root, 'empty-dir', 'nested-empty'), { recursive: true });
    await writeFile(path.join(root, 'empty-file'), '');
    files++;
  }
  if (spec.symlinks) {
    await symlink('empty-file', path.join(root, 'link-to-file'));
    await symlink('../outside/target', path.join(root, 'dangling-link'));
  }
  return files;
}

/**
 * Waits until files written so far are older than a backup's racy window (same-file.ts RACY_MARGIN_MS): a file
 * changed within it before a backup started is read again by the next incremental, so a test that wants every
 * unchanged file reused lets its tree age first.
 */
export async function pastRacyWindow(): Promise<void> {
  const { RACY_MARGIN_MS } = await import('../../server/engine/backup/same-file');
  await new Promise((r) => setTimeout(r, RACY_MARGIN_MS + 50));
}
