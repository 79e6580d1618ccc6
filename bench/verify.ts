/**
 * Checks a restored tree against a list of sizes and SHA-256 hashes (the generator's, or a real tree's):
 * the same paths, the same bytes in every regular file, the same target in every symlink.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, opendir, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { FileSum, Sums } from './tree-writer';

const CONCURRENCY = 4;

export interface VerifyOutcome {
  ok: boolean;
  files_expected: number;
  files_found: number;
  bytes_checked: number;
  problems: string[];
  seconds: number;
}

type Kind = 'file' | 'link';

export async function verifyTree(root: string, expected: Sums): Promise<VerifyOutcome> {
  const started = performance.now();
  const found = await listEntries(root);
  const problems: string[] = [];
  for (const rel of found.keys()) if (!(rel in expected)) problems.push(`unexpected file ${rel}`);
  for (const rel of Object.keys(expected)) if (!found.has(rel)) problems.push(`missing file ${rel}`);
  let bytes = 0;
  const queue = [...found.entries()].filter(([rel]) => rel in expected);
  const worker = async () => {
    for (let item = queue.pop(); item !== undefined; item = queue.pop()) {
      const [rel, kind] = item;
      const problem = await compare(path.join(root, ...rel.split('/')), kind, expected[rel]!, (n) => (bytes += n));
      if (problem) problems.push(`${rel}: ${problem}`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return {
    ok: problems.length === 0,
    files_expected: Object.keys(expected).length,
    files_found: found.size,
    bytes_checked: bytes,
    problems: problems.slice(0, 10),
    seconds: (performance.now() - started) / 1000,
  };
}

async function compare(abs: string, kind: Kind, exp: FileSum, count: (bytes: number) => void): Promise<string | null> {
  if (exp.link !== undefined) {
    if (kind !== 'link') return `expected a symlink to ${exp.link}, found a ${kind}`;
    const target = await readlink(abs);
    return target === exp.link ? null : `symlink to ${target}, expected ${exp.link}`;
  }
  if (kind !== 'file') return `expected a regular file, found a ${kind}`;
  const got = await hashFile(abs);
  count(got.size);
  if (got.size !== exp.size) return `size ${got.size}, expected ${exp.size}`;
  return got.sha256 === exp.sha256 ? null : 'content differs (sha256)';
}

/** Every regular file and symlink under `root` by its '/'-separated relative path (symlinks are not followed). */
async function listEntries(root: string): Promise<Map<string, Kind>> {
  const out = new Map<string, Kind>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for await (const d of await opendir(dir)) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(path.join(dir, d.name), r);
      else if (d.isFile() || d.isSymbolicLink()) out.set(r, d.isFile() ? 'file' : 'link');
    }
  };
  await walk(root, '');
  return out;
}

/** Files up to this size are read whole: a stream per file costs more than the hashing for small files. */
const WHOLE_READ_MAX = 4 * 1024 * 1024;

export async function hashFile(file: string): Promise<FileSum> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    if (size <= WHOLE_READ_MAX) {
      const data = await fh.readFile();
      return { size: data.length, sha256: createHash('sha256').update(data).digest('hex') };
    }
  } finally {
    await fh.close();
  }
  return hashStream(file);
}

function hashStream(file: string): Promise<FileSum> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let size = 0;
    createReadStream(file, { highWaterMark: 1024 * 1024 })
      .on('data', (b) => {
        size += b.length;
        h.update(b);
      })
      .once('error', reject)
      .once('end', () => resolve({ size, sha256: h.digest('hex') }));
  });
}
