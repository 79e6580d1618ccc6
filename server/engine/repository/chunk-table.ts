/**
 * The chunk table of a backup: the ordered shard ids its manifest's extents point into, stored as NDJSON
 * lines of id arrays across the backup's `chunks` shards. This is the one place that decodes it, and it
 * validates what it decodes: storage is untrusted, so a line that is not an array of shard ids is an
 * integrity error, never a crash or a path into the repository.
 */
import { EngineError } from '../errors';

/** A shard id as the shard store names objects: the content id, a dash and 6 random bytes. */
export const SHARD_ID = /^[0-9a-f]{64}-[0-9a-f]{12}$/;

/** More chunks than this in one backup is not a table we wrote (4 PiB at the smallest chunk size). */
const MAX_CHUNKS = 2 ** 34;

export function parseChunkTableLine(line: string, lineNo: number): string[] {
  let ids: unknown;
  try {
    ids = JSON.parse(line);
  } catch {
    throw damaged(lineNo, 'it is not JSON');
  }
  if (!Array.isArray(ids)) throw damaged(lineNo, 'it is not a list of shard ids');
  for (const id of ids) if (typeof id !== 'string' || !SHARD_ID.test(id)) throw damaged(lineNo, 'it holds something that is not a shard id');
  return ids as string[];
}

/** Reads a whole chunk table from the lines of its shards. */
export async function readChunkTable(lines: AsyncIterable<string>): Promise<string[]> {
  const ids: string[] = [];
  let n = 0;
  for await (const line of lines) {
    for (const id of parseChunkTableLine(line, ++n)) ids.push(id);
    if (ids.length > MAX_CHUNKS) throw damaged(n, 'it is larger than any backup');
  }
  return ids;
}

function damaged(lineNo: number, why: string): EngineError {
  return new EngineError('INTEGRITY', `The backup's chunk table is damaged (line ${lineNo}: ${why}). Run verify --read-data, then repair from another copy.`);
}
