import type { Db } from '../../db/client';
import type { Config } from '../config';
import type { CodecPool } from './repository/codec-pool';
import type { KeyRing } from './keys/keys';
import type { LocationSet } from './storage/locations';
import type { KeySource } from './repository/key-source';
import type { ShardIndex } from './repository/shard-index';

/** What every engine operation needs; built once by BackupEngine.open. */
export interface EngineContext {
  config: Config;
  db: Db;
  /** The catalog's shard records as the backup write and restore read paths use them (repository/shard-index.ts). */
  index: ShardIndex;
  keys: KeyRing;
  /** The data keys and plaintext rule the read path uses (repository/key-source.ts). */
  keySource: KeySource;
  idKey: Buffer;
  locations: LocationSet;
  pool: CodecPool;
  log: (msg: string) => void;
  now: () => Date;
}
