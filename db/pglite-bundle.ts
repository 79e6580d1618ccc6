/**
 * PGlite's bundle of share files (pglite.data: 6.2 MB of Postgres's catalog scripts, time zones, ICU
 * collation data, encoding conversions, build files) as a mapping of the installed file instead of a copy in
 * memory. PGlite reads the whole bundle into one buffer and keeps it for the life of the database: its
 * in-memory file system hands out views of that buffer as the files, and the closure that loaded it stays
 * alive. A running catalog server reads a few of those files (the UTC zone, the time zone abbreviations);
 * mapped, only those pages are resident, so the server's private memory is ~6 MiB smaller for its lifetime.
 *
 * The mapping is private and copy-on-write (native/readfiles' mapFile): nothing PGlite writes reaches the
 * installed file. The other way round, a page not yet read shows the file as it is when read: npm replaces
 * a package's files with new ones (the mapping keeps the old), but a file truncated in place under a running
 * server would end it (SIGBUS on the next read past the new end; clients then start a new server, as after
 * any crash: nothing committed is lost). Where the addon was not built (or cannot make external buffers),
 * PGlite reads the bundle itself, as before.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { loadAddon } from '../server/engine/native-addon';

interface MapFile {
  mapFile?(file: string): ArrayBuffer;
}

/** The installed pglite.data of the PGlite this process imports. */
export function pgliteBundlePath(): string {
  return path.join(path.dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), 'pglite.data');
}

/**
 * An `fsBundle` for PGlite.create over the mapped bundle, or undefined (PGlite then reads its own). PGlite
 * only calls the bundle's arrayBuffer() (and checks its size against the one it was built with), so this is
 * the one method it has.
 */
export function mappedFsBundle(log?: (msg: string) => void): Blob | undefined {
  const addon = loadAddon<MapFile>('readfiles');
  if (!addon?.mapFile) return undefined;
  let mapped: ArrayBuffer;
  try {
    mapped = addon.mapFile(pgliteBundlePath());
  } catch (err) {
    log?.(`${(err as Error).message}; the database's share files are read into memory instead`);
    return undefined;
  }
  return { arrayBuffer: async () => mapped } as unknown as Blob;
}
