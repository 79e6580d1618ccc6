/**
 * The stored form of a catalog snapshot (`catalog/<time>-<random>` in every location; see
 * docs/repository-format.md "Catalog snapshots"): the catalog tables storage cannot rebuild, as JSON,
 * zstd-compressed and sealed with AES-256-GCM in the ordinary object format (codec.ts).
 *
 * The key is derived (HKDF-SHA256) from the repository's id key, which only the master key unwraps from
 * config.json: whoever can write to a bucket without the master key can neither read a snapshot (it holds
 * password hashes) nor forge one. The id key survives master-key rotations, so older snapshots stay
 * readable. The object's name is in the AEAD's additional data (label `catalog:<name>`), so an older
 * snapshot renamed to look newer fails authentication; a half-written or truncated one fails its checksum.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { decodeObject, encodeObject, IntegrityError } from '../repository/codec';

export const CATALOG_PREFIX = 'catalog/';
export const CATALOG_FORMAT = 'plexichat-catalog-snapshot';
export const CATALOG_VERSION = 1;
/** Key id in the object header: not a data key, so no data-key lookup can ever open a catalog snapshot. */
const KEY_ID = 'catalog-v1';
const NAME = /^catalog\/(\d{8}T\d{9}Z)-[0-9a-f]{12}$/;

export type Row = Record<string, unknown>;

/** A storage location as the catalog stores it: non-secret settings, credentials sealed under the master key. */
export interface LocationRow extends Row {
  name: string;
  type: string;
  settings: Record<string, unknown>;
  secrets: string | null;
}

export interface CatalogSnapshotDoc {
  format: typeof CATALOG_FORMAT;
  version: number;
  repo_id: string;
  created_at: string;
  /** The newest audit event it holds: events after it are not in it. */
  audit_id: number;
  /** Audit events older than the cap, left out to keep the snapshot small. */
  audit_left_out: number;
  /** Fingerprint of the master key that sealed the credentials in it. */
  master_key: string;
  /** The config file's locations (credentials sealed the same way): with any one location, they find the others. */
  config_locations: LocationRow[];
  tables: {
    users: Row[];
    schedules: Row[];
    settings: Row[];
    storage_locations: LocationRow[];
    audit_events: Row[];
    /** The newest restore drills (absent in snapshots written before drills were kept). */
    restore_drills?: Row[];
    /** The newest restore jobs (absent in snapshots written before restore jobs were kept). */
    restore_jobs?: Row[];
  };
}

export function catalogKey(idKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', idKey, Buffer.alloc(0), 'plexichat catalog-snapshot v1', 32));
}

const label = (name: string) => `catalog:${name}`;

/** `catalog/20240102T030405678Z-<12 hex>`: names sort by time, and two writers never share one. */
export function snapshotName(at: Date): string {
  return `${CATALOG_PREFIX}${at.toISOString().replace(/[-:.]/g, '')}-${randomBytes(6).toString('hex')}`;
}

/** The time a name claims, or null for a name this engine never writes. */
export function nameTime(name: string): number | null {
  const m = NAME.exec(name);
  if (!m) return null;
  const s = m[1]!;
  const t = Date.parse(`${s.slice(0, 4)}-${s.slice(4, 6)}-${s.slice(6, 8)}T${s.slice(9, 11)}:${s.slice(11, 13)}:${s.slice(13, 15)}.${s.slice(15, 18)}Z`);
  return Number.isNaN(t) ? null : t;
}

export function encodeSnapshot(idKey: Buffer, name: string, doc: CatalogSnapshotDoc): Buffer {
  return encodeObject(Buffer.from(JSON.stringify(doc)), { label: label(name), keyId: KEY_ID, key: catalogKey(idKey), cipher: 'aes-256-gcm', compression: 'zstd', level: 6 }).stored;
}

/** Opens and checks a stored snapshot; every failure is an IntegrityError naming what is wrong. */
export function decodeSnapshot(idKey: Buffer, name: string, stored: Buffer, repoId: string): CatalogSnapshotDoc {
  const key = catalogKey(idKey);
  const plain = decodeObject(stored, label(name), (id) => (id === KEY_ID ? key : null), { allowPlain: false });
  let doc: CatalogSnapshotDoc;
  try {
    doc = JSON.parse(plain.toString('utf8')) as CatalogSnapshotDoc;
  } catch {
    throw new IntegrityError('the catalog snapshot is not JSON');
  }
  if (doc.format !== CATALOG_FORMAT) throw new IntegrityError('not a catalog snapshot');
  if (doc.version !== CATALOG_VERSION) throw new IntegrityError(`catalog snapshot version ${String(doc.version)} is not supported by this version (${CATALOG_VERSION}); upgrade first`);
  if (doc.repo_id !== repoId) throw new IntegrityError(`it belongs to repository ${String(doc.repo_id)}, not ${repoId}`);
  const t = doc.tables as Partial<CatalogSnapshotDoc['tables']> | undefined;
  const arrays = t && [t.users, t.schedules, t.settings, t.storage_locations, t.audit_events, doc.config_locations].every(Array.isArray);
  if (!arrays || typeof doc.audit_id !== 'number') throw new IntegrityError('the catalog snapshot is missing tables');
  return doc;
}
