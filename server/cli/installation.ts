/**
 * Read-only commands never create an installation: `plexichat-backup list` on a machine (or with a
 * data_dir) where none exists must say where it looked instead of generating a new master key and an
 * empty catalog. Only the commands that start using the installation may create it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config';
import { EngineError } from '../engine/errors';

/** The commands that may set up a new installation (catalog and master key) where none exists. */
export function createsInstallation(cmd: string, args: string[]): boolean {
  if (['backup', 'watch', 'worker', 'recover-catalog'].includes(cmd)) return true;
  return (cmd === 'schedule' || cmd === 'user') && args[0] === 'add';
}

/** What is missing for the configured installation to exist; empty when it does. */
export function missingInstallation(config: Config): string[] {
  const missing: string[] = [];
  if (!config.database_url && !existsSync(path.join(config.data_dir, 'catalog'))) missing.push(`no catalog in ${config.data_dir}`);
  const key = config.master_key_source;
  if (key.kind === 'file' && !existsSync(key.path)) missing.push(`no master key file ${key.path}`);
  return missing;
}

/** Throws NOT_FOUND (exit 4) naming where it looked and how to point at an installation. */
export function assertInstallation(config: Config, cmd: string): void {
  const missing = missingInstallation(config);
  if (!missing.length) return;
  throw new EngineError(
    'NOT_FOUND',
    `No PlexiChat Backup installation here (${missing.join('; ')}), so "${cmd}" has nothing to read and creates nothing. ` +
      `Point at yours with PLEXICHAT_DATA_DIR (or data_dir in the PLEXICHAT_CONFIG file) and PLEXICHAT_KEY_FILE or PLEXICHAT_ENCRYPTION_KEY; ` +
      `a new installation is created by npm start, plexichat-backup backup <path>, or recover-catalog.`,
  );
}
