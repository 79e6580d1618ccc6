/**
 * Storage locations changed in the console apply without a restart. Every process keeps a fingerprint of
 * the catalog's `storage_locations` rows; when it changes (the console saved a change, here or in another
 * process), the locations are opened again: unchanged ones stay as they are, new and changed ones are opened,
 * and the set is swapped in place. A backend that left the set is closed a while later, so an operation that
 * already picked it can finish. The config file's locations change only with a restart.
 */
import { sql } from 'drizzle-orm';
import type { EngineContext } from '../context';
import { syncMasterKeys } from '../keys/key-rotation';
import type { Location } from './locations';
import { openLocations } from '../setup';

export interface LocationChanges {
  added: string[];
  changed: string[];
  removed: string[];
}

/** How long a replaced backend stays open for the operations that still hold it. */
const RETIRE_AFTER_MS = 10 * 60_000;

export async function locationsFingerprint(ctx: Pick<EngineContext, 'db'>): Promise<string> {
  const r = await ctx.db.execute<{ f: string | null }>(sql`SELECT md5(string_agg(row_to_json(s)::text, ',' ORDER BY s.name)) AS f FROM storage_locations s`);
  return r.rows[0]?.f ?? '';
}

export class LocationReloader {
  private running: Promise<LocationChanges | null> = Promise.resolve(null);
  private readonly retired = new Set<Location>();

  constructor(
    private readonly ctx: EngineContext,
    private fingerprint: string,
  ) {}

  /** Reloads when the stored locations changed since the last look (or always, with force); null when nothing changed. */
  refresh(force = false): Promise<LocationChanges | null> {
    // One reload at a time: a second caller waits for the first, then looks again.
    this.running = this.running.catch(() => null).then(() => this.reload(force));
    return this.running;
  }

  private async reload(force: boolean): Promise<LocationChanges | null> {
    const fingerprint = await locationsFingerprint(this.ctx);
    if (!force && fingerprint === this.fingerprint) return null;
    const set = this.ctx.locations;
    const before = new Map(set.all.map((l) => [l.name, l]));
    // Stored credentials are sealed under the current master key, which a rotation elsewhere may have changed.
    await syncMasterKeys(this.ctx);
    const [current, ...previous] = this.ctx.keys.allMasters;
    const next = await openLocations(this.ctx.config, this.ctx.db, this.ctx.log, current, set, previous, this.ctx.now);
    const changes: LocationChanges = { added: [], changed: [], removed: [] };
    for (const l of next.all) {
      const old = before.get(l.name);
      if (!old) changes.added.push(l.name);
      else if (old !== l) changes.changed.push(l.name);
    }
    const retired: Location[] = [...before.values()].filter((l) => !next.all.includes(l));
    changes.removed = retired.map((l) => l.name).filter((n) => !next.get(n));
    set.replace(next.all);
    this.fingerprint = fingerprint;
    if (retired.length) {
      for (const l of retired) this.retired.add(l);
      setTimeout(() => void this.closeRetired(retired), RETIRE_AFTER_MS).unref();
    }
    if (changes.added.length || changes.changed.length || changes.removed.length) {
      this.ctx.log(`storage locations reloaded: added [${changes.added.join(', ')}], changed [${changes.changed.join(', ')}], removed [${changes.removed.join(', ')}]`);
    }
    return changes;
  }

  /** Closes replaced backends (all of them when the engine closes). */
  async closeRetired(which: Iterable<Location> = [...this.retired]): Promise<void> {
    for (const l of which) {
      if (!this.retired.delete(l)) continue;
      await l.backend.close().catch(() => undefined);
    }
  }
}
