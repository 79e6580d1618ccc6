/**
 * The catalog, read without opening the installation's storage: what `list` needs. Opening it checks what
 * BackupEngine.open checks before any read (the master key opens the repository the catalog records) and
 * reaps interrupted backups before listing, but starts no storage backend, HSM session or codec thread, and
 * loads none of the backup, restore or maintenance code.
 */
import { type Catalog, openCatalog } from '../../db/client';
import type { Config } from '../config';
import { countBackups, listBackups } from './catalog/backup-list';
import { checkRepositoryKey } from './keys/repository-key';
import { loadMasterKey, loadPreviousMasterKeys } from './keys/keys';
import type { BackupMetadata, ListBackupsFilter } from './types';

export class CatalogReader {
  private constructor(
    private readonly catalog: Catalog,
    private readonly now: () => Date,
  ) {}

  /**
   * null when only BackupEngine.open can decide (an HSM holds the key-encryption key, or the catalog records
   * no repository yet and one must be adopted from storage or created): the caller opens the engine instead.
   */
  static async open(config: Config, opts: { log?: (line: string) => void; now?: () => Date } = {}): Promise<CatalogReader | null> {
    if (config.hsm) return null;
    const log = opts.log ?? ((line: string) => console.error(line));
    const catalog = await openCatalog({ databaseUrl: config.database_url, dataDir: config.data_dir });
    try {
      const master = loadMasterKey(config.master_key_source, log);
      if (!(await checkRepositoryKey(catalog.db, master, loadPreviousMasterKeys(config.master_key_source)))) {
        await catalog.close();
        return null;
      }
      return new CatalogReader(catalog, opts.now ?? (() => new Date()));
    } catch (err) {
      await catalog.close().catch(() => undefined);
      throw err;
    }
  }

  listBackups(filter: ListBackupsFilter = {}): Promise<BackupMetadata[]> {
    return listBackups({ db: this.catalog.db, now: this.now }, filter);
  }

  countBackups(filter: ListBackupsFilter = {}): Promise<number> {
    return countBackups(this.catalog.db, filter);
  }

  close(): Promise<void> {
    return this.catalog.close();
  }
}
