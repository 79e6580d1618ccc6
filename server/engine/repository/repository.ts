/**
 * The repository layout inside every storage location (see docs/repository-format.md):
 *   config.json            format, repository id, KDF salt, wrapped id key — no secret in plain text
 *   keys/<key id>.json     wrapped data keys
 *   data/<xx>/<shard id>   shards (file data and manifest pieces), in the codec's object format
 *   data/<xx>/<shard id>.p<i>  piece i of an erasure-coded shard (repository/pieces.ts), one per location
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
/** Piece `index` of an erasure-coded shard; each location holds at most one piece of a shard. */
export const pieceKey = (shardId: string, index: number) => `${shardKey(shardId)}.p${index}`;
/** What a replica row names: a whole copy (piece null) or one piece. */
export const replicaKey = (shardId: string, piece: number | null | undefined) => (piece === null || piece === undefined ? shardKey(shardId) : pieceKey(shardId, piece));
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
