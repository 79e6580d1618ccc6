/**
 * The order in which the walk yields a backup's paths (source.ts), as a comparison of two paths: the sources
 * in the order given, then depth first with a directory before its contents and each directory's names sorted
 * as Array.prototype.sort sorts them. A backup's manifest lists its entries in this order, so a new walk and
 * its base's manifest can be read side by side (base-join.ts).
 */
export type PathOrder = (a: string, b: string) => number;

/** `sourceRels`: each source's name inside the backup ('' for the one directory whose contents are the root). */
export function walkOrder(sourceRels: readonly string[]): PathOrder {
  const rank = new Map(sourceRels.map((r, i) => [r, i]));
  const named = sourceRels.some((r) => r !== '');
  return (a, b) => {
    if (a === b) return 0;
    let i = 0;
    let j = 0;
    for (let depth = 0; ; depth++) {
      const ea = a.indexOf('/', i);
      const eb = b.indexOf('/', j);
      const ca = ea < 0 ? a.slice(i) : a.slice(i, ea);
      const cb = eb < 0 ? b.slice(j) : b.slice(j, eb);
      if (ca !== cb) {
        if (depth === 0 && named) {
          const ra = rank.get(ca) ?? Infinity;
          const rb = rank.get(cb) ?? Infinity;
          if (ra !== rb) return ra < rb ? -1 : 1;
        }
        return ca < cb ? -1 : 1;
      }
      if (ea < 0) return -1; // a is a directory above b
      if (eb < 0) return 1;
      i = ea + 1;
      j = eb + 1;
    }
  };
}
