/**
 * Whether the configured master key opens this repository: its id key, recorded in the catalog's
 * `repository` setting, must unwrap. BackupEngine.open checks it (setup.ts), and so does a command that only
 * reads the catalog (CatalogReader), so a wrong key is refused the same way by every command.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '../../../db/client';
import { settings } from '../../../db/schema';
import type { TrustedRepoConfig } from '../repository/repo-trust';
import { EngineError } from '../errors';
import { KeyRing, type WrappedKey } from './keys';

export async function loadRepoSetting(db: Db): Promise<TrustedRepoConfig | null> {
  const [row] = await db.select().from(settings).where(eq(settings.key, 'repository'));
  return row ? (row.value as unknown as TrustedRepoConfig) : null;
}

/** The repository's id key; a master key that does not unwrap it is refused, naming both keys. */
export function unwrapIdKey(keys: KeyRing, wrapped: WrappedKey): Promise<Buffer> {
  return keys.unwrap(wrapped).catch(() => {
    throw new EngineError(
      'INVALID',
      `The master key does not open this repository (its keys are wrapped by ${wrapped.kekId}, the configured key is ${keys.masterId}). Set PLEXICHAT_ENCRYPTION_KEY to the key it was created with.`,
    );
  });
}

/**
 * Checks the master key (and the replaced ones still accepted) against the repository the catalog records.
 * false when the catalog records none yet: only BackupEngine.open can settle that (adopt or create one).
 */
export async function checkRepositoryKey(db: Db, master: Buffer, previous: Buffer[]): Promise<boolean> {
  const repo = await loadRepoSetting(db);
  if (!repo) return false;
  const keys = new KeyRing(master, Buffer.from(repo.kdf_salt, 'hex'), null, previous);
  try {
    await unwrapIdKey(keys, repo.id_key);
    return true;
  } finally {
    keys.close();
  }
}
