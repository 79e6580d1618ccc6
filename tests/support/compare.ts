/** Compares two trees: every entry's type, content (byte for byte), mode, mtime and link target. */
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import path from 'node:path';

export async function treeDiff(a: string, b: string, opts: { mtimes?: boolean } = {}): Promise<string[]> {
  const problems: string[] = [];
  const walk = async (rel: string) => {
    const pa = path.join(a, rel);
    const pb = path.join(b, rel);
    const [sa, sb] = await Promise.all([lstat(pa), lstat(pb).catch(() => null)]);
    if (!sb) return void problems.push(`missing: ${rel}`);
    if (sa.isDirectory() !== sb.isDirectory() || sa.isFile() !== sb.isFile() || sa.isSymbolicLink() !== sb.isSymbolicLink()) return void problems.push(`type differs: ${rel}`);
    // The root is the restore target the user chose: its own mode and mtime are theirs.
    if ((sa.mode & 0o7777) !== (sb.mode & 0o7777) && !sa.isSymbolicLink() && rel !== '') problems.push(`mode differs: ${rel}`);
    if (opts.mtimes !== false && !sa.isSymbolicLink() && rel !== '' && Math.abs(sa.mtimeMs - sb.mtimeMs) > 1) problems.push(`mtime differs: ${rel} ${sa.mtimeMs} vs ${sb.mtimeMs}`);
    if (sa.isSymbolicLink()) {
      if ((await readlink(pa)) !== (await readlink(pb))) problems.push(`link target differs: ${rel}`);
    } else if (sa.isFile()) {
      if (sa.size !== sb.size) problems.push(`size differs: ${rel}`);
      else if (!(await readFile(pa)).equals(await readFile(pb))) problems.push(`content differs: ${rel}`);
    } else if (sa.isDirectory()) {
      const [ea, eb] = await Promise.all([readdir(pa), readdir(pb)]);
      for (const extra of eb.filter((n) => !ea.includes(n))) problems.push(`unexpected: ${path.join(rel, extra)}`);
      for (const n of ea) await walk(path.join(rel, n));
    }
  };
  await walk('');
  return problems;
}
