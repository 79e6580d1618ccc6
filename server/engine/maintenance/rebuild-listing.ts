/**
 * What every location holds, from listings alone (no object is downloaded): a catalog rebuild learns which
 * shards exist where, and their stored sizes, from this. Locations and prefixes are listed in parallel.
 */
import { parsePieceKey, pieceKey, shardKey } from '../repository/repository';
import type { Location } from '../storage/locations';

export interface Copy {
  location: string;
  size: number;
  /** A piece of an erasure-coded shard (its name says which, and the coding): docs/repository-format.md. */
  piece?: { k: number; m: number; index: number };
}

/** The coding of a shard whose copies are pieces (null: whole copies). */
export function codingOf(copies: Copy[]): { k: number; m: number } | null {
  const p = copies.find((c) => c.piece)?.piece;
  return p ? { k: p.k, m: p.m } : null;
}

/** The object name of a listed copy. */
export const copyKey = (id: string, c: Copy) => (c.piece ? pieceKey(id, c.piece, c.piece.index) : shardKey(id));

export interface RepositoryListing {
  /** shard id → its copies */
  data: Map<string, Copy[]>;
  /** backup id → locations holding its snapshot */
  snapshots: Map<string, string[]>;
  /** key object name → locations */
  keys: Map<string, string[]>;
  /** locations whose listing failed (the rebuild is then incomplete), with the reason */
  failed: { location: string; error: string }[];
}

export async function listRepository(locs: Location[]): Promise<RepositoryListing> {
  const out: RepositoryListing = { data: new Map(), snapshots: new Map(), keys: new Map(), failed: [] };
  const add = <T>(m: Map<string, T[]>, k: string, v: T) => {
    const list = m.get(k);
    if (list) list.push(v);
    else m.set(k, [v]);
  };
  await Promise.all(
    locs.map(async (loc) => {
      try {
        await Promise.all([
          (async () => {
            for await (const o of loc.backend.list('data/')) {
              const id = o.key.slice(o.key.lastIndexOf('/') + 1);
              // Only names the shard store makes (data/<xx>/<id>, or a piece's); anything else is not a shard.
              if (o.key === `data/${id.slice(0, 2)}/${id}`) add(out.data, id, { location: loc.name, size: o.size });
              const p = parsePieceKey(o.key);
              if (p) add(out.data, p.shardId, { location: loc.name, size: o.size, piece: { k: p.k, m: p.m, index: p.index } });
            }
          })(),
          (async () => {
            for await (const o of loc.backend.list('snapshots/')) add(out.snapshots, o.key.slice('snapshots/'.length), loc.name);
          })(),
          (async () => {
            for await (const o of loc.backend.list('keys/')) add(out.keys, o.key, loc.name);
          })(),
        ]);
      } catch (err) {
        out.failed.push({ location: loc.name, error: (err as Error).message });
      }
    }),
  );
  return out;
}
