/**
 * One backup, read back from storage alone for a catalog rebuild: its snapshot (authenticated: see
 * repo-trust.ts), its manifest shards (each fully checked, content id included), and its chunk table.
 * Nothing here trusts the catalog, which is what is being rebuilt.
 */
import { StringDecoder } from 'node:string_decoder';
import { readChunkTable } from '../repository/chunk-table';
import { IntegrityError, readHeader } from '../repository/codec';
import { type CheckedShard, checkShardObject, UNVERIFIED } from '../repository/content-check';
import type { EngineContext } from '../context';
import { EngineError } from '../errors';
import { isQuorumRequired } from '../keys/keys';
import { type Copy, type RepositoryListing, codingOf } from './rebuild-listing';
import type { ShardRecord } from '../catalog/catalog';
import { checkPieces } from './verify-pieces';
import { openSnapshot } from '../repository/repo-trust';
import { shardKey, snapshotKey, snapshotLabel, type SnapshotDoc } from '../repository/repository';
import type { SecurityLevel } from '../types';

export interface RepoKey {
  key: Buffer;
  level: string;
}

export interface ManifestShard {
  checked: CheckedShard | null;
  good: Copy[];
  bad: { copy: Copy; reason: string }[];
}

export interface RebuiltBackup {
  doc: SnapshotDoc;
  manifest: Map<string, ManifestShard>;
  /** The data shards the chunk table lists, or null when the manifest could not be read. */
  chunkIds: string[] | null;
  problems: string[];
}

export interface RebuildContext {
  ctx: EngineContext;
  listing: RepositoryListing;
  keys: Map<string, RepoKey>;
  allowPlain: boolean;
  checked?: Map<string, Promise<ManifestShard>>;
  /** MAXIMUM keys that are authentic but sealed to the quorum, whose shares this run was not given. */
  quorumSealed?: Set<string>;
}

/** Thrown for a backup whose key needs the quorum: skipped (not damaged) by a run without shares. */
export const needsQuorum = (keyId: string) =>
  new EngineError('INVALID', `its data key ${keyId} is a MAXIMUM key sealed to the key holders' quorum: run recover-catalog again with k shares (--share LINE, repeated) to import it`, { quorum_required: true });

/** The snapshot of a backup, from the first location whose copy is authentic. Throws when none is. */
export async function readSnapshot(rc: RebuildContext, backupId: string): Promise<SnapshotDoc> {
  const problems: string[] = [];
  for (const name of rc.listing.snapshots.get(backupId) ?? []) {
    try {
      const stored = await rc.ctx.locations.get(name)!.backend.get(snapshotKey(backupId));
      const h = readHeader(stored);
      const k = h.cipher === 'none' ? null : rc.keys.get(h.keyId);
      if (h.cipher !== 'none' && !k && rc.quorumSealed?.has(h.keyId)) throw needsQuorum(h.keyId);
      if (h.cipher !== 'none' && !k) throw new IntegrityError(`it names data key ${h.keyId}, which no key object of this repository holds`);
      const plain = await rc.ctx.pool.decode(stored, snapshotLabel(backupId), k ? { [h.keyId]: k.key } : {}, { allowPlain: rc.allowPlain });
      const doc = openSnapshot(rc.ctx.idKey, plain, backupId, h.cipher !== 'none');
      if (k && (doc.key_id !== h.keyId || k.level !== doc.security_level)) throw new IntegrityError('its data key does not match the backup it describes');
      return doc;
    } catch (err) {
      if (isQuorumRequired(err)) throw err;
      problems.push(`${name}: ${(err as Error).message}`);
    }
  }
  throw new IntegrityError(`no authentic snapshot (${problems.join('; ')})`);
}

export async function readBackup(rc: RebuildContext, backupId: string): Promise<RebuiltBackup> {
  const doc = await readSnapshot(rc, backupId);
  const level = doc.security_level as SecurityLevel;
  const manifest = new Map<string, ManifestShard>();
  const problems: string[] = [];
  await Promise.all(
    [...new Set([...doc.files_shards, ...doc.chunks_shards])].map(async (id) => {
      const m = await checkCopies(rc, id, level, true);
      manifest.set(id, m);
      if (!m.checked) problems.push(`manifest shard ${id} has no readable copy`);
    }),
  );
  let chunkIds: string[] | null = null;
  if (doc.chunks_shards.every((id) => manifest.get(id)?.checked)) {
    try {
      chunkIds = await readChunkTable(linesOf(doc.chunks_shards.map((id) => manifest.get(id)!.checked!.plain)));
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return { doc, manifest, chunkIds, problems };
}

/**
 * Every listed copy of a shard, checked: the first fully (content id included), the others against its
 * checksum (copies of one shard are byte-identical). Shared shards are checked once per rebuild.
 */
export function checkCopies(rc: RebuildContext, id: string, level: SecurityLevel, keepPlain = false): Promise<ManifestShard> {
  rc.checked ??= new Map();
  let p = rc.checked.get(id);
  if (!p) {
    p = checkAll(rc, id, level, keepPlain);
    rc.checked.set(id, p);
  }
  return p;
}

async function checkAll(rc: RebuildContext, id: string, level: SecurityLevel, keepPlain: boolean): Promise<ManifestShard> {
  const keyFor = async (k: string) => {
    const key = rc.keys.get(k);
    return key && key.level === level ? key.key : null;
  };
  const m: ManifestShard = { checked: null, good: [], bad: [] };
  const copies = rc.listing.data.get(id) ?? [];
  const coding = codingOf(copies);
  if (coding) {
    // Erasure-coded: rebuilt from k pieces that give back an object passing the full content check.
    const pieces = copies.filter((c) => c.piece);
    const rec = { id, coding, checksum: UNVERIFIED, replicas: pieces.map((c) => ({ location: c.location, state: 'ok', piece: c.piece!.index })) } as ShardRecord;
    const r = await checkPieces(rc.ctx, rec, { rebuild: true, accept: (stored) => checkShardObject(rc.ctx, id, stored, { level, keyFor, allowPlain: rc.allowPlain }) });
    m.checked = r.checked;
    for (const c of pieces) {
      const wrong = r.bad.find((b) => b.location === c.location);
      if (wrong || !r.object) m.bad.push({ copy: c, reason: wrong?.message ?? r.bad.map((b) => b.message).join('; ') });
      else m.good.push(c);
    }
  }
  for (const copy of coding ? [] : copies) {
    try {
      const stored = await rc.ctx.locations.get(copy.location)!.backend.get(shardKey(id));
      if (m.checked) {
        if (stored.length !== m.checked.storedSize || stored.subarray(stored.length - 32).toString('hex') !== m.checked.checksum) throw new IntegrityError('it differs from the good copy');
      } else {
        m.checked = await checkShardObject(rc.ctx, id, stored, { level, keyFor, allowPlain: rc.allowPlain });
      }
      m.good.push(copy);
    } catch (err) {
      m.bad.push({ copy, reason: (err as Error).message });
    }
  }
  // Plaintext is kept only for manifest shards (their lines are read next); data shards drop it at once.
  if (m.checked && !keepPlain) m.checked = { ...m.checked, plain: Buffer.alloc(0) };
  return m;
}

async function* linesOf(bufs: Buffer[]): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let carry = '';
  for (const b of bufs) {
    const parts = (carry + decoder.write(b)).split('\n');
    carry = parts.pop() ?? '';
    for (const l of parts) if (l) yield l;
  }
  if (carry) yield carry;
}
