/**
 * The shard index contract (repository/shard-index.ts), run against the in-memory index and — when
 * TEST_DATABASE_URL names a PostgreSQL server — the catalog's, on a throwaway database: the same rules for
 * look-ups, references, records and replica marks, so tests built on the memory index hold for the catalog.
 */
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Catalog, openCatalog } from '../../db/client';
import { backups } from '../../db/schema';
import { MemoryShardIndex } from '../../server/engine/repository/memory-shard-index';
import { PgShardIndex } from '../../server/engine/repository/pg-shard-index';
import { UNVERIFIED } from '../../server/engine/repository/content-check';
import type { ImportedShard, ShardIndex, ShardRecordInput } from '../../server/engine/repository/shard-index';
import { createDatabase } from '../support/engine-env';

interface Subject {
  /** An index; `plain()`: whether the repository may hold unencrypted objects (read when a session starts). */
  make(plain: () => boolean): Promise<ShardIndex>;
  /** A backup's references dropped (a failed backup drops them; a deleted one's go with it). */
  dropReferences(backupId: string): Promise<void>;
  close(): Promise<void>;
}

function memory(): Subject {
  let index: MemoryShardIndex;
  return {
    make: async (plain) => (index = new MemoryShardIndex({ plaintextAllowed: plain })),
    dropReferences: async (id) => index.dropReferences(id),
    close: async () => undefined,
  };
}

function postgres(): Subject {
  let db: { drop: () => Promise<void> } | null = null;
  let catalog: Catalog | null = null;
  return {
    async make(plain) {
      if (!catalog) {
        db = await createDatabase();
        catalog = await openCatalog({ databaseUrl: (db as unknown as { url: string }).url, dataDir: '/nonexistent' });
      }
      // backup_shards references backups: the backups the tests use exist.
      await catalog.db
        .insert(backups)
        .values(['b1', 'b2', 'b3', 'b4', 'b5', 'b6'].map((id) => ({ id, status: 'running', backupType: 'full', securityLevel: 'standard', retentionDays: 1 })))
        .onConflictDoNothing();
      return new PgShardIndex(catalog.db, async () => plain());
    },
    async dropReferences(id) {
      await catalog!.db.execute(sql`DELETE FROM backup_shards WHERE backup_id = ${id}`);
    },
    async close() {
      await catalog?.close();
      await db?.drop();
    },
  };
}

const SUBJECTS: [string, () => Subject][] = [['memory', memory], ...(process.env.TEST_DATABASE_URL ? [['postgres', postgres] as [string, () => Subject]] : [])];

let n = 0;
/** A new shard record; every call makes a fresh id and, unless given, a fresh content id. */
function shard(over: Partial<ShardRecordInput> = {}): ShardRecordInput {
  n++;
  const contentId = over.contentId ?? `c${String(n).padStart(63, '0')}`;
  return {
    id: `${contentId}-${String(n).padStart(12, '0')}`,
    contentId,
    securityLevel: 'standard',
    keyId: 'k1',
    plainSize: 100 + n,
    storedSize: 80 + n,
    checksum: `${'ab'.repeat(31)}${String(n % 100).padStart(2, '0')}`,
    compression: 'zstd',
    kind: 'data',
    encrypted: true,
    locations: ['loc-a', 'loc-b'],
    ...over,
  };
}

/** A shard as a catalog rebuild finds it in a listing (unchecked), or `over` it. */
function imported(from: ShardRecordInput = shard(), over: Partial<ImportedShard> = {}): ImportedShard {
  const replicas = from.locations.map((location) => ({ location, state: 'ok' as const, piece: null }));
  return { id: from.id, contentId: from.contentId, keyId: '', plainSize: 0, storedSize: from.storedSize, checksum: UNVERIFIED, compression: 'unknown', kind: 'data', coding: null, replicas, ...over };
}

describe.each(SUBJECTS)('shard index contract (%s)', (_name, subject) => {
  const s = subject();
  let index: ShardIndex;
  let plainAllowed = false;
  const at = new Date('2026-02-03T04:05:06Z');

  beforeAll(async () => {
    index = await s.make(() => plainAllowed);
  });
  afterAll(() => s.close());

  it('records a shard with its replicas and the backup reference, once the record resolves', async () => {
    const w = index.session('b1', 'standard', true);
    const a = shard();
    const coded = shard({ locations: ['loc-c', 'loc-a', 'loc-b'], coding: { k: 2, m: 1, pieces: [2, 0, 1] } });
    await Promise.all([w.record(a), w.record(coded), w.flush()]);
    const got = await index.records([a.id, coded.id, 'nope-000000000000']);
    expect([...got.keys()].sort()).toEqual([a.id, coded.id].sort());
    expect(got.get(a.id)).toEqual({
      id: a.id,
      contentId: a.contentId,
      checksum: a.checksum,
      plainSize: a.plainSize,
      storedSize: a.storedSize,
      compression: 'zstd',
      kind: 'data',
      keyId: 'k1',
      coding: null,
      replicas: [
        { location: 'loc-a', state: 'ok', piece: null },
        { location: 'loc-b', state: 'ok', piece: null },
      ],
    });
    expect(got.get(coded.id)!.coding).toEqual({ k: 2, m: 1 });
    expect(got.get(coded.id)!.replicas).toEqual([
      { location: 'loc-a', state: 'ok', piece: 0 },
      { location: 'loc-b', state: 'ok', piece: 1 },
      { location: 'loc-c', state: 'ok', piece: 2 },
    ]);
    expect((await index.backupRecords('b1')).map((r) => r.id)).toEqual(expect.arrayContaining([a.id, coded.id]));
  });

  it('looks a content id up at its level only, and the hit becomes a reference of the looking backup', async () => {
    const a = shard();
    await index.session('b1', 'standard', true).record(a);
    const w = index.session('b2', 'standard', true);
    const [hit, miss, other] = await Promise.all([w.lookup(a.contentId), w.lookup(shard().contentId), index.session('b2', 'high', true).lookup(a.contentId)]);
    expect(hit).toEqual({ id: a.id, plainSize: a.plainSize, storedSize: a.storedSize, isNew: false });
    expect(miss).toBeNull();
    expect(other).toBeNull();
    expect((await index.backupRecords('b2')).map((r) => r.id)).toContain(a.id);
  });

  it('after look-ups that found nothing, still finds, references and refuses exactly as before', async () => {
    // The catalog's index then asks a cheap probe first (pg-shard-index.ts lastMissed): it must not hide a hit
    // in a batch of misses, nor let through what the full rules refuse.
    const a = shard();
    const imported = shard({ checksum: '' });
    const noReplica = shard();
    const plainOne = shard({ encrypted: false });
    for (const x of [a, imported, noReplica, plainOne]) await index.session('b1', 'standard', true).record(x);
    await index.markReplica(noReplica.id, 'loc-a', 'bad', at);
    await index.markReplica(noReplica.id, 'loc-b', 'missing', at);
    const w = index.session('b2', 'standard', true);
    expect(await w.lookup(shard().contentId)).toBeNull();
    expect(await w.lookup(imported.contentId)).toBeNull();
    expect(await w.lookup(noReplica.contentId)).toBeNull();
    expect(await w.lookup(plainOne.contentId)).toBeNull();
    const [miss, hit] = await Promise.all([w.lookup(shard().contentId), w.lookup(a.contentId)]);
    expect(miss).toBeNull();
    expect(hit?.id).toBe(a.id);
    expect(await w.lookup(shard().contentId)).toBeNull();
    expect((await w.lookup(a.contentId))?.id).toBe(a.id);
    const referenced = (await index.backupRecords('b2')).map((r) => r.id);
    expect(referenced).toContain(a.id);
    for (const refused of [imported, noReplica, plainOne]) expect(referenced).not.toContain(refused.id);
  });

  it('skips a shard with no good replica, and finds it again once a replica is marked ok', async () => {
    const a = shard();
    await index.session('b1', 'standard', true).record(a);
    await index.markReplica(a.id, 'loc-a', 'bad', at);
    await index.markReplica(a.id, 'loc-b', 'missing', at);
    await index.markReplica(a.id, 'loc-z', 'ok', at); // no such replica: nothing changes
    await index.markReplica('nope-000000000000', 'loc-a', 'ok', at);
    expect((await index.records([a.id])).get(a.id)!.replicas.map((r) => r.state)).toEqual(['bad', 'missing']);
    expect(await index.session('b2', 'standard', true).lookup(a.contentId)).toBeNull();
    await index.markReplica(a.id, 'loc-b', 'ok', at);
    expect((await index.session('b2', 'standard', true).lookup(a.contentId))?.id).toBe(a.id);
  });

  it('reuses the oldest shard of a content id', async () => {
    const first = shard();
    const second = shard({ contentId: first.contentId });
    await index.session('b1', 'standard', true).record(first);
    await new Promise((r) => setTimeout(r, 5));
    await index.session('b1', 'standard', true).record(second);
    expect((await index.session('b2', 'standard', true).lookup(first.contentId))?.id).toBe(first.id);
  });

  it('never reuses or references a shard imported from storage whose content was not checked', async () => {
    const imported = shard({ checksum: '' });
    await index.session('b1', 'standard', true).record(imported);
    const w = index.session('b2', 'standard', true);
    expect(await w.lookup(imported.contentId)).toBeNull();
    expect(await w.reference(imported.id)).toBeNull();
  });

  it('an encrypting backup never reuses an unencrypted shard; a plaintext backup may', async () => {
    const plain = shard({ encrypted: false });
    await index.session('b1', 'standard', false).record(plain);
    for (const allowed of [false, true]) {
      plainAllowed = allowed;
      const enc = index.session('b2', 'standard', true);
      expect(await enc.lookup(plain.contentId)).toBeNull();
      expect(await enc.reference(plain.id)).toBeNull();
      expect((await index.session('b3', 'standard', false).lookup(plain.contentId))?.id).toBe(plain.id);
    }
    plainAllowed = false;
  });

  it('references an existing shard by id (null when gone) and adds it to the backup', async () => {
    const a = shard();
    await index.session('b1', 'standard', true).record(a);
    const w = index.session('b3', 'standard', true);
    const [got, gone] = await Promise.all([w.reference(a.id), w.reference('f'.repeat(64) + '-000000000000')]);
    expect(got).toEqual({ id: a.id, plainSize: a.plainSize, storedSize: a.storedSize, isNew: false });
    expect(gone).toBeNull();
    expect((await index.backupRecords('b3')).map((r) => r.id)).toContain(a.id);
  });

  it('answers every look-up of a batch larger than one statement with its own shard', async () => {
    const rows = Array.from({ length: 150 }, () => shard());
    const w = index.session('b1', 'standard', true);
    await Promise.all(rows.map((r) => w.record(r)));
    const r = index.session('b2', 'standard', true);
    const found = await Promise.all(rows.map((x) => r.lookup(x.contentId)));
    expect(found.map((f) => f?.id)).toEqual(rows.map((x) => x.id));
  });

  it('a batch of records is written whole or not at all', async () => {
    const a = shard();
    await index.session('b1', 'standard', true).record(a);
    const w = index.session('b1', 'standard', true);
    const b = shard();
    const dup = w.record({ ...a });
    const ok = w.record(b);
    await w.flush();
    await expect(dup).rejects.toThrow();
    await expect(ok).rejects.toThrow();
    expect((await index.records([b.id])).has(b.id)).toBe(false);
  });
  it("lists a backup's shard ids: the ones it recorded and referenced, none of another backup's", async () => {
    const mine = shard();
    const theirs = shard();
    await index.session('b3', 'standard', true).record(mine);
    await index.session('b1', 'standard', true).record(theirs);
    const ids = await index.backupShardIds('b3');
    expect(ids).toContain(mine.id);
    expect(ids).not.toContain(theirs.id);
    expect([...ids].sort()).toEqual((await index.backupRecords('b3')).map((r) => r.id).sort());
    expect(await index.backupShardIds('no-such-backup')).toEqual([]);
  });

  it('records what a full content check found of an unverified shard, and leaves a checked shard alone', async () => {
    const imported = shard({ checksum: '', plainSize: 0, keyId: '', compression: 'none' });
    const known = shard();
    await Promise.all([index.session('b1', 'standard', true).record(imported), index.session('b1', 'standard', true).record(known)]);
    const found = { checksum: 'cd'.repeat(32), plainSize: 4321, keyId: 'k9', compression: 'zstd' };
    await index.recordChecked(imported.id, found);
    await index.recordChecked(known.id, found);
    const got = await index.records([imported.id, known.id]);
    expect(got.get(imported.id)).toMatchObject(found);
    expect(got.get(known.id)).toMatchObject({ checksum: known.checksum, plainSize: known.plainSize, keyId: known.keyId, compression: known.compression });
    // Checked, it is an ordinary shard: a dedup target.
    expect((await index.session('b2', 'standard', true).lookup(imported.contentId))?.id).toBe(imported.id);
  });
  it('adds a replica: a new row ok, an existing row back to ok (its piece kept unless given), a moved piece leaving its old row', async () => {
    const a = shard();
    const coded = shard({ locations: ['loc-a', 'loc-b', 'loc-c'], coding: { k: 2, m: 1, pieces: [0, 1, 2] } });
    await Promise.all([index.session('b1', 'standard', true).record(a), index.session('b1', 'standard', true).record(coded)]);
    await index.markReplica(a.id, 'loc-a', 'bad', at);
    await index.addReplica(a.id, 'loc-a', at);
    await index.addReplica(a.id, 'loc-c', at);
    expect((await index.records([a.id])).get(a.id)!.replicas).toEqual([
      { location: 'loc-a', state: 'ok', piece: null },
      { location: 'loc-b', state: 'ok', piece: null },
      { location: 'loc-c', state: 'ok', piece: null },
    ]);
    await index.markReplica(coded.id, 'loc-b', 'missing', at);
    await index.addReplica(coded.id, 'loc-d', at, { piece: 1, replaces: 'loc-b' });
    await index.markReplica(coded.id, 'loc-c', 'bad', at);
    await index.addReplica(coded.id, 'loc-c', at, { replaces: null });
    expect((await index.records([coded.id])).get(coded.id)!.replicas).toEqual([
      { location: 'loc-a', state: 'ok', piece: 0 },
      { location: 'loc-c', state: 'ok', piece: 2 },
      { location: 'loc-d', state: 'ok', piece: 1 },
    ]);
    await expect(index.addReplica('nope-000000000000', 'loc-a', at)).rejects.toThrow();
    expect(await index.records(['nope-000000000000'])).toEqual(new Map());
  });

  it('drops a replica row (a copy about to be deleted), lists every shard id in order, and the shards at a location largest first', async () => {
    const small = shard({ storedSize: 10, locations: ['loc-z', 'loc-a'] });
    const big = shard({ storedSize: 30, locations: ['loc-a', 'loc-z'] });
    const mid = shard({ storedSize: 20, locations: ['loc-z'] });
    const twin = shard({ storedSize: 20, locations: ['loc-z'] });
    const elsewhere = shard({ storedSize: 99, locations: ['loc-a'] });
    const w = index.session('b1', 'standard', true);
    await Promise.all([small, big, mid, twin, elsewhere].map((x) => w.record(x)));
    const [m1, m2] = [mid.id, twin.id].sort();
    expect(await index.largestAt('loc-z', 0, 10)).toEqual([big.id, m1, m2, small.id]);
    expect(await index.largestAt('loc-z', 1, 2)).toEqual([m1, m2]);
    const all = await index.allShardIds();
    expect(all).toEqual(expect.arrayContaining([small.id, big.id, mid.id, twin.id, elsewhere.id]));
    expect(all).toEqual([...all].sort());

    await index.removeReplica(big.id, 'loc-z');
    await index.removeReplica(big.id, 'loc-q');
    await index.removeReplica('nope-000000000000', 'loc-z');
    expect((await index.records([big.id])).get(big.id)!.replicas).toEqual([{ location: 'loc-a', state: 'ok', piece: null }]);
    expect(await index.largestAt('loc-z', 0, 10)).toEqual([m1, m2, small.id]);
  });

  it('imports shards read back from storage: new ones whole, a known one kept (an unverified one completed by a checked import), replica rows added where none is', async () => {
    const known = shard();
    await index.session('b1', 'standard', true).record(known);
    const fresh = imported(shard(), { replicas: [{ location: 'loc-a', state: 'ok', piece: null }, { location: 'loc-b', state: 'bad', piece: null }] });
    const coded = imported(shard(), { checksum: 'cd'.repeat(32), keyId: 'k2', plainSize: 70, compression: 'zstd', coding: { k: 2, m: 1 }, replicas: [0, 1, 2].map((piece) => ({ location: `loc-${'abc'[piece]}`, state: 'ok' as const, piece })) });
    const again = imported(known, { replicas: [{ location: 'loc-b', state: 'bad', piece: null }, { location: 'loc-c', state: 'ok', piece: null }] });
    expect(await index.importShards('b6', 'standard', [fresh, coded, again])).toEqual({ inserted: 2, unverified: 1 });
    const got = await index.records([fresh.id, coded.id, known.id]);
    expect(got.get(fresh.id)).toEqual({ id: fresh.id, contentId: fresh.contentId, checksum: UNVERIFIED, plainSize: 0, storedSize: fresh.storedSize, compression: 'unknown', kind: 'data', keyId: '', coding: null, replicas: fresh.replicas });
    expect(got.get(coded.id)).toMatchObject({ checksum: coded.checksum, keyId: 'k2', plainSize: 70, coding: { k: 2, m: 1 }, replicas: coded.replicas });
    expect(got.get(known.id)).toMatchObject({ checksum: known.checksum, keyId: 'k1', plainSize: known.plainSize });
    expect(got.get(known.id)!.replicas.map((r) => `${r.location}:${r.state}`)).toEqual(['loc-a:ok', 'loc-b:ok', 'loc-c:ok']);
    expect((await index.backupShardIds('b6')).sort()).toEqual([fresh.id, coded.id, known.id].sort());
    expect(await index.session('b2', 'standard', true).lookup(fresh.contentId)).toBeNull();

    const checked = { checksum: 'ef'.repeat(32), keyId: 'k9', plainSize: 500, storedSize: 600, compression: 'zstd' };
    expect(await index.importShards('b6', 'standard', [imported(known, checked), { ...fresh, ...checked }])).toEqual({ inserted: 0, unverified: 0 });
    expect(await index.importShards('b6', 'standard', [fresh])).toEqual({ inserted: 0, unverified: 0 });
    const after = await index.records([fresh.id, known.id]);
    expect(after.get(fresh.id)).toMatchObject(checked);
    expect(after.get(known.id)).toMatchObject({ checksum: known.checksum, keyId: 'k1' });
    expect((await index.session('b2', 'standard', true).lookup(fresh.contentId))?.id).toBe(fresh.id);
  });

  it('adds the copies a storage listing found of known shards: ok where no row is, an existing row kept, an unknown shard skipped', async () => {
    const a = shard();
    const coded = shard({ locations: ['loc-a', 'loc-b'], coding: { k: 1, m: 2, pieces: [0, 1] } });
    const w = index.session('b1', 'standard', true);
    await Promise.all([w.record(a), w.record(coded)]);
    await index.markReplica(a.id, 'loc-b', 'bad', at);
    await index.addListedCopies([
      { shardId: a.id, location: 'loc-b', piece: null },
      { shardId: a.id, location: 'loc-c', piece: null },
      { shardId: coded.id, location: 'loc-c', piece: 2 },
      { shardId: coded.id, location: 'loc-c', piece: 2 },
      { shardId: 'nope-000000000000', location: 'loc-c', piece: null },
    ]);
    await index.addListedCopies([]);
    const got = await index.records([a.id, coded.id, 'nope-000000000000']);
    expect(got.has('nope-000000000000')).toBe(false);
    expect(got.get(a.id)!.replicas).toEqual([
      { location: 'loc-a', state: 'ok', piece: null },
      { location: 'loc-b', state: 'bad', piece: null },
      { location: 'loc-c', state: 'ok', piece: null },
    ]);
    expect(got.get(coded.id)!.replicas).toEqual([
      { location: 'loc-a', state: 'ok', piece: 0 },
      { location: 'loc-b', state: 'ok', piece: 1 },
      { location: 'loc-c', state: 'ok', piece: 2 },
    ]);
  });

  it('lists the other shards with a content id, by id, and a re-created shard takes its new object\'s meta', async () => {
    const first = shard();
    const second = shard({ contentId: first.contentId });
    const third = shard({ contentId: first.contentId });
    const unrelated = shard();
    const w = index.session('b1', 'standard', true);
    await Promise.all([first, second, third, unrelated].map((x) => w.record(x)));
    expect((await index.sameContent(first.contentId, second.id)).map((r) => r.id)).toEqual([first.id, third.id].sort());
    expect(await index.sameContent(unrelated.contentId, unrelated.id)).toEqual([]);

    const meta = { checksum: 'ef'.repeat(32), keyId: 'k7', compression: 'none', storedSize: 999, encrypted: false };
    await index.replaceObject(first.id, meta);
    await index.replaceObject('nope-000000000000', meta);
    expect((await index.records([first.id])).get(first.id)).toMatchObject({ checksum: meta.checksum, keyId: 'k7', compression: 'none', storedSize: 999, plainSize: first.plainSize });
    // Now unencrypted: an encrypting backup no longer reuses it (one batch: the others are equally old).
    expect([second.id, third.id]).toContain((await index.session('b2', 'standard', true).lookup(first.contentId))?.id);
  });
  describe('the gc mark of unreferenced shards', () => {
    const t = (h: number) => new Date(Date.UTC(2026, 2, 1, h));
    const ids = (rows: { id: string }[]) => rows.map((r) => r.id);
    /** Records shards for backup b4, then drops b4's references: they are unreferenced. */
    const orphaned = async (...rows: ShardRecordInput[]) => {
      const w = index.session('b4', 'standard', true);
      await Promise.all(rows.map((r) => w.record(r)));
      await s.dropReferences('b4');
      return rows;
    };

    beforeAll(async () => {
      // A clean slate: every unreferenced shard the tests above left is marked and deleted.
      await index.markUnreferenced(t(0));
      for (let page = await index.markedPage(t(0), '', 500); page.length; page = await index.markedPage(t(0), '', 500)) await index.deleteUnreferenced(ids(page), t(0));
    });

    it('marks unreferenced shards once, counts them by mark, and a look-up or reference clears the mark', async () => {
      const [x, y, z, coded] = await orphaned(shard(), shard(), shard(), shard({ locations: ['loc-c', 'loc-a', 'loc-b'], coding: { k: 2, m: 1, pieces: [2, 0, 1] } }));
      const live = shard();
      await index.session('b5', 'standard', true).record(live);
      await index.markUnreferenced(t(1));
      const sorted = [x!, y!, z!, coded!].sort((a, b) => (a.id < b.id ? -1 : 1));
      expect(await index.markedPage(t(1), '', 10)).toEqual(sorted.map((r) => ({ id: r.id, replicas: r.locations.length, storedSize: r.storedSize })));
      expect(await index.markedPage(t(1), sorted[1]!.id, 1)).toEqual([{ id: sorted[2]!.id, replicas: sorted[2]!.locations.length, storedSize: sorted[2]!.storedSize }]);
      expect(await index.markedPage(new Date(t(1).getTime() - 1), '', 10)).toEqual([]);
      expect(await index.tallyUnreferenced({ markedBy: t(1) })).toEqual({ shards: 4, objects: 9, bytes: sorted.reduce((n, r) => n + r.locations.length * r.storedSize, 0) });

      const w = index.session('b5', 'standard', true);
      expect((await w.lookup(x!.contentId))?.id).toBe(x!.id);
      expect((await w.reference(y!.id))?.id).toBe(y!.id);
      expect(ids(await index.markedPage(t(1), '', 10))).toEqual(ids([z!, coded!].sort((a, b) => (a.id < b.id ? -1 : 1))));

      // Unreferenced again: x and y wait for a new mark; z keeps its first one.
      await s.dropReferences('b5');
      const [v] = await orphaned(shard());
      await index.markUnreferenced(t(2));
      const unmarkedToo = await orphaned(shard());
      expect((await index.tallyUnreferenced({ markedBy: t(1) })).shards).toBe(2);
      expect((await index.tallyUnreferenced({ markedBy: t(2) })).shards).toBe(6);
      expect((await index.tallyUnreferenced({ except: t(1) })).shards).toBe(5);
      expect((await index.tallyUnreferenced({ markedBy: t(1), orUnmarked: true })).shards).toBe(3);
      expect((await index.tallyUnreferenced({ markedBy: t(2), orUnmarked: true, except: t(1) })).shards).toBe(5);
      expect((await index.tallyUnreferenced({})).shards).toBe(7);
      expect(ids(await index.markedPage(t(2), '', 10))).toEqual(ids([x!, y!, z!, coded!, live, v!].sort((a, b) => (a.id < b.id ? -1 : 1))));
      await index.deleteUnreferenced([...ids(await index.markedPage(t(2), '', 10)), ...ids(unmarkedToo)], null);
    });

    it('deletes only unreferenced shards, only those marked by the given mark, with where their objects were', async () => {
      const [old, coded, late] = await orphaned(shard(), shard({ locations: ['loc-c', 'loc-a', 'loc-b'], coding: { k: 2, m: 1, pieces: [2, 0, 1] } }), shard());
      const kept = shard();
      await index.session('b5', 'standard', true).record(kept);
      await index.markUnreferenced(t(3));
      await index.session('b5', 'standard', true).reference(old!.id).then(() => s.dropReferences('b5'));
      await index.markUnreferenced(t(5)); // old and kept: marked at 5
      await index.session('b5', 'standard', true).reference(kept.id);
      const [unmarked] = await orphaned(shard());
      const gone = await index.deleteUnreferenced([old!.id, coded!.id, late!.id, kept.id], t(4));
      expect(gone.sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual(
        [
          { id: coded!.id, storedSize: coded!.storedSize, locations: ['loc-a', 'loc-b', 'loc-c'], pieces: [0, 1, 2], coding: { k: 2, m: 1 } },
          { id: late!.id, storedSize: late!.storedSize, locations: ['loc-a', 'loc-b'], pieces: [null, null], coding: null },
        ].sort((a, b) => (a.id < b.id ? -1 : 1)),
      );
      expect([...(await index.records([old!.id, coded!.id, late!.id, kept.id])).keys()].sort()).toEqual([old!.id, kept.id].sort());
      // Without a mark: any unreferenced shard, marked or not; never a referenced one.
      expect(ids(await index.deleteUnreferenced([old!.id, unmarked!.id, kept.id], null)).sort()).toEqual([old!.id, unmarked!.id].sort());
      expect(await index.deleteUnreferenced([kept.id, 'nope-000000000000'], null)).toEqual([]);
      expect((await index.records([kept.id])).has(kept.id)).toBe(true);
      await s.dropReferences('b5');
      await index.deleteUnreferenced([kept.id], null);
    });

    it('a shard referenced by an imported backup loses its gc mark, as a session reference clears it', async () => {
      const [x, y] = await orphaned(shard(), shard());
      await index.markUnreferenced(t(7));
      expect(await index.importShards('b6', 'standard', [imported(x)])).toEqual({ inserted: 0, unverified: 0 });
      await s.dropReferences('b6');
      // Unreferenced again: only a new mark, a full grace period later, may let gc sweep it.
      expect(ids(await index.markedPage(t(7), '', 10))).toEqual([y!.id]);
      expect(await index.deleteUnreferenced([x!.id, y!.id], t(7))).toMatchObject([{ id: y!.id }]);
      await index.markUnreferenced(t(8));
      expect(ids(await index.markedPage(t(8), '', 10))).toContain(x!.id);
    });

    it('a reference that reaches a shard while its delete holds it finds it gone; one that came first keeps it', async () => {
      const [first, second] = await orphaned(shard(), shard());
      await index.markUnreferenced(t(6));
      const w = index.session('b5', 'standard', true);
      let during: Promise<unknown> | null = null;
      const gone = await index.deleteUnreferenced([first!.id], t(6), async () => {
        during = w.reference(first!.id);
        await new Promise((r) => setTimeout(r, 150));
      });
      expect(ids(gone)).toEqual([first!.id]);
      expect(await during).toBeNull();
      expect((await index.records([first!.id])).size).toBe(0);

      expect((await w.reference(second!.id))?.id).toBe(second!.id);
      expect(await index.deleteUnreferenced([second!.id], t(6))).toEqual([]);
      expect((await index.records([second!.id])).size).toBe(1);
      expect((await index.tallyUnreferenced({ markedBy: t(6) })).shards).toBe(0);
      await s.dropReferences('b5');
      await index.deleteUnreferenced([second!.id], null);
    });
  });
});
