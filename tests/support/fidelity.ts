/**
 * A stricter tree comparison than compare.ts, for faithful restores: nanosecond mtimes (within 1 µs and in
 * the same second), owner, special bits, user xattrs, hard-link groups (the same partition of paths into
 * inodes on both sides) and sparse files (allocated size).
 */
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';
import { getAttributeSync, listAttributesSync } from '@napi-rs/xattr';

export interface FidelityOptions {
  /** Paths (relative) whose mtime is not compared (e.g. the root, whose metadata is the target's). */
  skipMtime?: (rel: string) => boolean;
}

function xattrs(p: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of listAttributesSync(p).filter((x) => x.startsWith('user.')).sort()) out[n] = getAttributeSync(p, n)?.toString('hex') ?? '';
  return out;
}

export async function fidelityDiff(a: string, b: string, opts: FidelityOptions = {}): Promise<string[]> {
  const problems: string[] = [];
  const inodesA = new Map<string, string[]>();
  const inodesB = new Map<string, string[]>();
  const walk = async (rel: string) => {
    const pa = path.join(a, rel);
    const pb = path.join(b, rel);
    const sa = await lstat(pa, { bigint: true });
    const sb = await lstat(pb, { bigint: true }).catch(() => null);
    if (!sb) return void problems.push(`missing: ${rel}`);
    const kind = (s: typeof sa) => (s.isDirectory() ? 'dir' : s.isFile() ? 'file' : s.isSymbolicLink() ? 'link' : 'other');
    if (kind(sa) !== kind(sb)) return void problems.push(`type differs: ${rel} ${kind(sa)} vs ${kind(sb)}`);
    if (rel !== '') {
      if (!sa.isSymbolicLink() && (sa.mode & 0o7777n) !== (sb.mode & 0o7777n)) problems.push(`mode differs: ${rel} ${sa.mode.toString(8)} vs ${sb.mode.toString(8)}`);
      if (sa.uid !== sb.uid || sa.gid !== sb.gid) problems.push(`owner differs: ${rel}`);
      if (!opts.skipMtime?.(rel)) {
        const d = sa.mtimeNs - sb.mtimeNs;
        const sameSecond = sa.mtimeNs / 1_000_000_000n === sb.mtimeNs / 1_000_000_000n;
        if (d >= 1000n || d <= -1000n || !sameSecond) problems.push(`mtime differs: ${rel} ${sa.mtimeNs} vs ${sb.mtimeNs}`);
      }
      if (!sa.isSymbolicLink() && JSON.stringify(xattrs(pa)) !== JSON.stringify(xattrs(pb))) problems.push(`xattrs differ: ${rel}`);
    }
    if (sa.isSymbolicLink()) {
      if ((await readlink(pa)) !== (await readlink(pb))) problems.push(`link target differs: ${rel}`);
    } else if (sa.isFile()) {
      if (sa.nlink > 1n || sb.nlink > 1n) {
        const ka = `${sa.dev}:${sa.ino}`;
        const kb = `${sb.dev}:${sb.ino}`;
        inodesA.set(ka, [...(inodesA.get(ka) ?? []), rel]);
        inodesB.set(kb, [...(inodesB.get(kb) ?? []), rel]);
      }
      if (sa.size !== sb.size) problems.push(`size differs: ${rel}`);
      else if (!(await readFile(pa)).equals(await readFile(pb))) problems.push(`content differs: ${rel}`);
      // A sparse source stays sparse: the copy may not allocate much more than the original.
      if (sb.blocks > sa.blocks + 16n) problems.push(`not sparse: ${rel} ${sa.blocks} vs ${sb.blocks} blocks`);
    } else if (sa.isDirectory()) {
      const [ea, eb] = await Promise.all([readdir(pa), readdir(pb)]);
      for (const extra of eb.filter((n) => !ea.includes(n))) problems.push(`unexpected: ${path.join(rel, extra)}`);
      for (const n of ea.sort()) await walk(path.join(rel, n));
    }
  };
  await walk('');
  const groups = (m: Map<string, string[]>) => [...m.values()].map((g) => g.sort().join(' = ')).sort();
  const ga = groups(inodesA);
  const gb = groups(inodesB);
  if (JSON.stringify(ga) !== JSON.stringify(gb)) problems.push(`hard links differ: ${JSON.stringify(ga)} vs ${JSON.stringify(gb)}`);
  return problems;
}
