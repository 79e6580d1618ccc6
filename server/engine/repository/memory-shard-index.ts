/**
 * A shard index held in maps, for unit tests of the write and read paths without a database. It keeps the
 * catalog's rules (shard-index.ts, pg-shard-index.ts): the same reuse rule, the oldest shard per content id,
 * batches that apply as a whole or not at all, and records visible only once their batch is sent; the gc mark
 * (gc_marked_at) set on unreferenced shards, cleared by a look-up or reference, and a delete that makes the
 * session's batches wait while its rows are "locked" (as the catalog's row locks do).
 */
import { Batcher } from './batcher';
import { type CheckedShard, UNVERIFIED } from './content-check';
import type { GoneShard, ImportedShard, ListedCopy, ObjectMeta, ReplicaState, ShardIndex, ShardIndexSession, ShardRecord, ShardRecordInput, ShardTally, StoredShard, UnreferencedScope } from './shard-index';

interface Row {
  input: ShardRecordInput;
  /** Insertion order: "oldest" as created_at orders it in the catalog. */
  seq: number;
  /** null: written before the column existed, or imported from storage (see pg-shard-index.ts reusable()). */
  encrypted: boolean | null;
  replicas: Map<string, { state: ReplicaState; piece: number | null; checkedAt: Date }>;
  /** The gc mark (shards.gc_marked_at): null unless marked unreferenced and not reused since. */
  gcMarkedAt: Date | null;
}

export class MemoryShardIndex implements ShardIndex {
  private readonly rows = new Map<string, Row>();
  private readonly refs = new Map<string, Set<string>>();
  private seq = 0;
  /** Deletes under way: until they end, a session's batches wait (the catalog's row locks). */
  private readonly locks = new Set<Promise<void>>();

  constructor(
    /** plaintextAllowed: whether the repository may hold unencrypted objects (repo-trust.ts); false by default. */
    private readonly opts: { plaintextAllowed?: () => boolean; now?: () => Date } = {},
  ) {}

  session(backupId: string, level: string, encrypting: boolean): ShardIndexSession {
    const plain = this.opts.plaintextAllowed?.() ?? false;
    const reusable = (r: Row) => !encrypting || (plain ? r.encrypted === true : r.encrypted !== false);
    const usable = (r: Row) => r.input.checksum !== UNVERIFIED && reusable(r);
    const take = (r: Row): StoredShard => {
      r.gcMarkedAt = null;
      this.reference(backupId, r.input.id);
      return { id: r.input.id, plainSize: r.input.plainSize, storedSize: r.input.storedSize, isNew: false };
    };
    const lookups = new Batcher<string, StoredShard | null>(64, 2, async (cids) => {
      await this.unlocked();
      return cids.map((cid) => {
        let best: Row | null = null;
        for (const r of this.rows.values()) {
          if (r.input.contentId !== cid || r.input.securityLevel !== level || !usable(r)) continue;
          if (![...r.replicas.values()].some((p) => p.state === 'ok')) continue;
          if (!best || r.seq < best.seq) best = r;
        }
        return best && take(best);
      });
    });
    const refs = new Batcher<string, StoredShard | null>(256, 5, async (ids) => {
      await this.unlocked();
      return ids.map((id) => {
        const r = this.rows.get(id);
        return r && usable(r) ? take(r) : null;
      });
    });
    const records = new Batcher<ShardRecordInput, void>(64, 50, async (inputs) => {
      // One statement in the catalog: a duplicate id fails the whole batch, and nothing of it is applied.
      const ids = new Set<string>();
      for (const i of inputs) {
        if (this.rows.has(i.id) || ids.has(i.id)) throw new Error(`duplicate key value violates unique constraint "shards_pkey" (${i.id})`);
        ids.add(i.id);
      }
      const at = this.now();
      for (const i of inputs) {
        const replicas = new Map(i.locations.map((l, n) => [l, { state: 'ok' as ReplicaState, piece: i.coding?.pieces[n] ?? null, checkedAt: at }]));
        this.rows.set(i.id, { input: structuredClone(i), seq: this.seq++, encrypted: i.encrypted, replicas, gcMarkedAt: null });
        this.reference(backupId, i.id);
      }
      return inputs.map(() => undefined);
    });
    return {
      lookup: (cid) => lookups.add(cid),
      reference: (id) => refs.add(id),
      record: (row) => records.add(row),
      flush: async () => {
        await refs.flush();
        await lookups.flush();
        await records.flush();
      },
    };
  }

  async records(ids: string[]): Promise<Map<string, ShardRecord>> {
    const out = new Map<string, ShardRecord>();
    for (const id of ids) {
      const r = this.rows.get(id);
      if (r) out.set(id, this.toRecord(r));
    }
    return out;
  }

  async backupRecords(backupId: string): Promise<ShardRecord[]> {
    const ids = [...(this.refs.get(backupId) ?? [])].filter((id) => this.rows.has(id)).sort();
    return ids.map((id) => this.toRecord(this.rows.get(id)!));
  }

  async backupShardIds(backupId: string): Promise<string[]> {
    return [...(this.refs.get(backupId) ?? [])];
  }

  async recordChecked(shardId: string, c: Pick<CheckedShard, 'checksum' | 'plainSize' | 'keyId' | 'compression'>): Promise<void> {
    const r = this.rows.get(shardId);
    if (r?.input.checksum === UNVERIFIED) Object.assign(r.input, { checksum: c.checksum, plainSize: c.plainSize, keyId: c.keyId, compression: c.compression });
  }

  async markReplica(shardId: string, location: string, state: ReplicaState, at: Date): Promise<void> {
    const rep = this.rows.get(shardId)?.replicas.get(location);
    if (rep) Object.assign(rep, { state, checkedAt: at });
  }

  async addReplica(shardId: string, location: string, at: Date, opts: { piece?: number; replaces?: string | null } = {}): Promise<void> {
    const r = this.rows.get(shardId);
    // The catalog's foreign key: a replica row needs its shard row.
    if (!r) throw new Error(`insert or update on table "shard_replicas" violates foreign key constraint (${shardId})`);
    if (opts.replaces) r.replicas.delete(opts.replaces);
    const had = r.replicas.get(location);
    r.replicas.set(location, { state: 'ok', piece: opts.piece ?? (had ? had.piece : null), checkedAt: at });
  }

  async removeReplica(shardId: string, location: string): Promise<void> {
    this.rows.get(shardId)?.replicas.delete(location);
  }

  async allShardIds(): Promise<string[]> {
    return [...this.rows.keys()].sort(byId);
  }

  async largestAt(location: string, offset: number, limit: number): Promise<string[]> {
    return [...this.rows.values()]
      .filter((r) => r.replicas.has(location))
      .sort((a, b) => b.input.storedSize - a.input.storedSize || byId(a.input.id, b.input.id))
      .slice(offset, offset + limit)
      .map((r) => r.input.id);
  }

  async sameContent(contentId: string, exceptId: string): Promise<ShardRecord[]> {
    return [...this.rows.values()]
      .filter((r) => r.input.contentId === contentId && r.input.id !== exceptId)
      .map((r) => this.toRecord(r))
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  async replaceObject(shardId: string, m: ObjectMeta): Promise<void> {
    const r = this.rows.get(shardId);
    if (!r) return;
    Object.assign(r.input, { checksum: m.checksum, keyId: m.keyId, compression: m.compression, storedSize: m.storedSize });
    r.encrypted = m.encrypted;
  }

  /** No transactions here: `tx` is ignored, and the import applies as it goes. */
  async importShards(backupId: string, level: string, shards: ImportedShard[]): Promise<{ inserted: number; unverified: number }> {
    await this.unlocked();
    const out = { inserted: 0, unverified: 0 };
    const at = this.now();
    for (const s of shards) {
      const content = { keyId: s.keyId, plainSize: s.plainSize, storedSize: s.storedSize, checksum: s.checksum, compression: s.compression, kind: s.kind };
      let r = this.rows.get(s.id);
      if (!r) {
        const coding = s.coding ? { k: s.coding.k, m: s.coding.m, pieces: [] } : undefined;
        const input: ShardRecordInput = { id: s.id, contentId: s.contentId, securityLevel: level, encrypted: false, locations: [], ...content, ...(coding ? { coding } : {}) };
        // encrypted null: imported from storage, like a row from before the column (pg-shard-index.ts reusable()).
        this.rows.set(s.id, (r = { input, seq: this.seq++, encrypted: null, replicas: new Map(), gcMarkedAt: null }));
        out.inserted++;
        if (s.checksum === UNVERIFIED) out.unverified++;
      } else if (r.input.checksum === UNVERIFIED && s.checksum !== UNVERIFIED) {
        Object.assign(r.input, content);
      }
      for (const c of s.replicas) if (!r.replicas.has(c.location)) r.replicas.set(c.location, { state: c.state, piece: c.piece, checkedAt: at });
    }
    for (const s of shards) {
      this.rows.get(s.id)!.gcMarkedAt = null;
      this.reference(backupId, s.id);
    }
    return out;
  }

  async addListedCopies(copies: ListedCopy[]): Promise<void> {
    const at = this.now();
    for (const c of copies) {
      const r = this.rows.get(c.shardId);
      if (r && !r.replicas.has(c.location)) r.replicas.set(c.location, { state: 'ok', piece: c.piece, checkedAt: at });
    }
  }

  async markUnreferenced(at: Date): Promise<void> {
    const used = this.referenced();
    for (const r of this.rows.values()) if (r.gcMarkedAt === null && !used.has(r.input.id)) r.gcMarkedAt = at;
  }

  async tallyUnreferenced(scope: UnreferencedScope): Promise<ShardTally> {
    const out = { shards: 0, objects: 0, bytes: 0 };
    const used = this.referenced();
    for (const r of this.rows.values()) {
      if (used.has(r.input.id)) continue;
      if (scope.markedBy && !(markedBy(r, scope.markedBy) || (scope.orUnmarked && r.gcMarkedAt === null))) continue;
      if (scope.except && markedBy(r, scope.except)) continue;
      out.shards++;
      out.objects += r.replicas.size;
      out.bytes += r.replicas.size * r.input.storedSize;
    }
    return out;
  }

  async markedPage(at: Date, after: string, limit: number): Promise<{ id: string; replicas: number; storedSize: number }[]> {
    const used = this.referenced();
    return [...this.rows.values()]
      .filter((r) => markedBy(r, at) && !used.has(r.input.id) && r.input.id > after)
      .sort((a, b) => (a.input.id < b.input.id ? -1 : 1))
      .slice(0, limit)
      .map((r) => ({ id: r.input.id, replicas: r.replicas.size, storedSize: r.input.storedSize }));
  }

  async deleteUnreferenced(ids: string[], marked: Date | null, afterLock?: (ids: string[]) => Promise<void>): Promise<GoneShard[]> {
    if (!ids.length) return [];
    await this.unlocked();
    let release!: () => void;
    const lock = new Promise<void>((r) => (release = r));
    this.locks.add(lock);
    try {
      await afterLock?.(ids);
      const used = this.referenced();
      const out: GoneShard[] = [];
      for (const id of [...new Set(ids)].sort()) {
        const r = this.rows.get(id);
        if (!r || used.has(id) || (marked && !markedBy(r, marked))) continue;
        const reps = [...r.replicas].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        out.push({ id, storedSize: r.input.storedSize, locations: reps.map(([l]) => l), pieces: reps.map(([, p]) => p.piece), coding: r.input.coding ? { k: r.input.coding.k, m: r.input.coding.m } : null });
      }
      for (const g of out) this.rows.delete(g.id);
      return out;
    } finally {
      this.locks.delete(lock);
      release();
    }
  }

  /** Drops a backup's references (a failed or deleted backup; the catalog deletes its backup_shards rows). */
  dropReferences(backupId: string): void {
    this.refs.delete(backupId);
  }

  /** A shard's gc mark, for tests. */
  gcMark(shardId: string): Date | null | undefined {
    return this.rows.get(shardId)?.gcMarkedAt;
  }

  /** Every shard id recorded, for tests' invariant checks. */
  shardIds(): string[] {
    return [...this.rows.keys()];
  }

  private reference(backupId: string, shardId: string): void {
    let set = this.refs.get(backupId);
    if (!set) this.refs.set(backupId, (set = new Set()));
    set.add(shardId);
  }

  private referenced(): Set<string> {
    const out = new Set<string>();
    for (const ids of this.refs.values()) for (const id of ids) out.add(id);
    return out;
  }

  private async unlocked(): Promise<void> {
    while (this.locks.size) await Promise.all(this.locks);
  }

  private now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  private toRecord(r: Row): ShardRecord {
    const i = r.input;
    return {
      id: i.id,
      contentId: i.contentId,
      checksum: i.checksum,
      plainSize: i.plainSize,
      storedSize: i.storedSize,
      compression: i.compression,
      kind: i.kind,
      keyId: i.keyId,
      coding: i.coding ? { k: i.coding.k, m: i.coding.m } : null,
      replicas: [...r.replicas].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([location, p]) => ({ location, state: p.state, piece: p.piece })),
    };
  }
}

const byId = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const markedBy = (r: Row, at: Date) => r.gcMarkedAt !== null && r.gcMarkedAt.getTime() <= at.getTime();
