/** Checks a restored tree against the generator's list of sizes and SHA-256 hashes: same files, same bytes. */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { opendir } from 'node:fs/promises';
import path from 'node:path';
import type { Sums } from './tree-writer';

const CONCURRENCY = 4;

export interface VerifyOutcome {
  ok: boolean;
  files_expected: number;
  files_found: number;
  bytes_checked: number;
  problems: string[];
  seconds: number;
}

export async function verifyTree(root: string, expected: Sums): Promise<VerifyOutcome> {
  const started = performance.now();
  const found = await listFiles(root);
  const problems: string[] = [];
  const want = new Set(Object.keys(expected));
  for (const rel of found) if (!want.has(rel)) problems.push(`unexpected file ${rel}`);
  const present = new Set(found);
  for (const rel of want) if (!present.has(rel)) problems.push(`missing file ${rel}`);
  let bytes = 0;
  const queue = found.filter((rel) => want.has(rel));
  const worker = async () => {
    for (let rel = queue.pop(); rel !== undefined; rel = queue.pop()) {
      const exp = expected[rel]!;
      const got = await hashFile(path.join(root, ...rel.split('/')));
      bytes += got.size;
      if (got.size !== exp.size) problems.push(`${rel}: size ${got.size}, expected ${exp.size}`);
      else if (got.sha256 !== exp.sha256) problems.push(`${rel}: content differs (sha256)`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return {
    ok: problems.length === 0,
    files_expected: want.size,
    files_found: found.length,
    bytes_checked: bytes,
    problems: problems.slice(0, 10),
    seconds: (performance.now() - started) / 1000,
  };
}

async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for await (const d of await opendir(dir)) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) await walk(path.join(dir, d.name), r);
      else out.push(r);
    }
  };
  await walk(root, '');
  return out;
}

function hashFile(file: string): Promise<{ size: number; sha256: string }> {
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
