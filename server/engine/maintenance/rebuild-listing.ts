/**
 * What every location holds, from listings alone (no object is downloaded): a catalog rebuild learns which
 * shards exist where, and their stored sizes, from this. Locations and prefixes are listed in parallel.
 */
import type { Location } from '../storage/locations';

export interface Copy {
  location: string;
  size: number;
}

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
              // Only names the shard store makes (data/<xx>/<id>); anything else is not a shard.
              if (o.key === `data/${id.slice(0, 2)}/${id}`) add(out.data, id, { location: loc.name, size: o.size });
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
