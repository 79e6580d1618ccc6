/**
 * The keys the read path needs, behind one interface: a data key by id (only of the reader's security level),
 * and whether the repository may hold unencrypted objects. `CatalogKeySource` is the catalog's (data_keys rows
 * unwrapped by the key ring, repo-trust.ts for the rule); unit tests give a memory one (tests/support).
 */
import type { Db } from '../../../db/client';
import { loadWrappedKey } from '../catalog/catalog';
import type { KeyRing } from '../keys/keys';
import type { SecurityLevel } from '../types';

export interface KeySource {
  /**
   * A data key of this security level, unwrapped (keys in the catalog were unwrapped by the master key, so an
   * object opening under one was written by a key holder); null for an unknown id or another level's key.
   */
  dataKey(keyId: string, level: SecurityLevel): Promise<Buffer | null>;
  /** May this installation read unencrypted objects (repo-trust.ts plaintextAllowed)? */
  plaintextAllowed(): Promise<boolean>;
}

export class CatalogKeySource implements KeySource {
  constructor(
    private readonly db: Db,
    private readonly keys: KeyRing,
    /** repo-trust.ts plaintextAllowed for the engine's context. */
    readonly plaintextAllowed: () => Promise<boolean>,
  ) {}

  async dataKey(keyId: string, level: SecurityLevel): Promise<Buffer | null> {
    const w = await loadWrappedKey(this.db, keyId);
    return w && w.securityLevel === level ? this.keys.unwrap(w) : null;
  }
}
