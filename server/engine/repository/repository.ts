/**
 * The repository layout inside every storage location (see docs/repository-format.md):
 *   config.json            format, repository id, KDF salt, wrapped id key — no secret in plain text
 *   keys/<key id>.json     wrapped data keys
 *   data/<xx>/<shard id>   shards (file data and manifest pieces), in the codec's object format
 *   data/<xx>/<shard id>.rs<k>-<m>.p<i>  piece i of a k+m erasure-coded shard (repository/pieces.ts), one per location
 *   snapshots/<backup id>  a backup's root: its metadata and manifest shard lists, encrypted
 * Write order: data, then keys and manifest shards, then the snapshot, then the catalog row says completed.
 */
import type { WrappedKey } from '../keys/keys';

export const REPO_FORMAT = 'plexichat-backup-repository';
export const REPO_VERSION = 1;

export interface RepoConfig {
  format: typeof REPO_FORMAT;
  version: number;
  repo_id: string;
  created_at: string;
  kdf_salt: string;
  id_key: WrappedKey;
}

export const CONFIG_KEY = 'config.json';
export const shardKey = (shardId: string) => `data/${shardId.slice(0, 2)}/${shardId}`;
/**
 * Piece `index` of a k+m erasure-coded shard; each location holds at most one piece of a shard. The coding is
 * in the name so that a catalog rebuilt from listings alone knows it (recover-catalog).
 */
export const pieceKey = (shardId: string, coding: { k: number; m: number }, index: number) => `${shardKey(shardId)}.rs${coding.k}-${coding.m}.p${index}`;
const PIECE_NAME = /^data\/([0-9a-f]{2})\/(\1[0-9a-f]{62}-[0-9a-f]{12})\.rs(\d{1,3})-(\d{1,3})\.p(\d{1,3})$/;
/** A piece's name taken apart (pieceKey's inverse); null for any other name. */
export function parsePieceKey(key: string): { shardId: string; k: number; m: number; index: number } | null {
  const p = PIECE_NAME.exec(key);
  if (!p) return null;
  const [k, m, index] = [Number(p[3]), Number(p[4]), Number(p[5])];
  return k >= 1 && m >= 1 && index < k + m ? { shardId: p[2]!, k, m, index } : null;
}
/** What a replica row names: a whole copy (piece null) or one piece of a coded shard. */
export const replicaKey = (shardId: string, piece: number | null | undefined, coding: { k: number; m: number } | null) =>
  piece === null || piece === undefined || !coding ? shardKey(shardId) : pieceKey(shardId, coding, piece);
export const keyKey = (keyId: string) => `keys/${keyId}.json`;
export const snapshotKey = (backupId: string) => `snapshots/${backupId}`;
export const snapshotLabel = (backupId: string) => `snapshot:${backupId}`;

/** What a snapshot object holds: enough to rebuild the backup's catalog row and restore it from storage alone. */
export interface SnapshotDoc {
  backup_id: string;
  key_id: string;
  security_level: string;
  files_shards: string[];
  chunks_shards: string[];
  metadata: Record<string, unknown>;
}
