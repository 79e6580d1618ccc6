/**
 * Where an installation lives when the configuration does not say: one absolute, per-machine place, the
 * same whatever folder `npm start`, the console or the CLI is run from.
 * - data_dir: /var/lib/plexichat as root, else $XDG_DATA_HOME/plexichat (~/.local/share/plexichat).
 * - key_file: /etc/plexichat/master.key as root, else $XDG_CONFIG_HOME/plexichat/master.key
 *   (~/.config/plexichat/master.key): apart from the data (the spec keeps keys separately from data), so a
 *   copy of data_dir or of a storage location never carries the key that opens it. An installation with
 *   another data_dir gets its own key file there (master-<hash of data_dir>.key): two installations never
 *   share a key, so a rotation in one cannot lock the other out.
 * bin/start.mjs loads this module too (through tsx), so `npm start` and the CLI agree.
 */
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

type EnvVars = Readonly<Record<string, string | undefined>>;

/** The current user's id (undefined where there is none, e.g. Windows). */
export const currentUid = (): number | undefined => process.getuid?.();

const home = (env: EnvVars) => (env.HOME && path.isAbsolute(env.HOME) ? env.HOME : homedir());
/** An XDG base directory: the variable when it holds an absolute path (the XDG spec ignores relative ones), else the fallback under $HOME. */
const xdg = (env: EnvVars, name: string, fallback: string[]) => {
  const v = env[name];
  return v && path.isAbsolute(v) ? v : path.join(home(env), ...fallback);
};

export function defaultDataDir(env: EnvVars, uid = currentUid()): string {
  return uid === 0 ? '/var/lib/plexichat' : path.join(xdg(env, 'XDG_DATA_HOME', ['.local', 'share']), 'plexichat');
}

/** The private (0700) folder the default key files live in. */
export function defaultKeyDir(env: EnvVars, uid = currentUid()): string {
  return uid === 0 ? '/etc/plexichat' : path.join(xdg(env, 'XDG_CONFIG_HOME', ['.config']), 'plexichat');
}

/** The default key file of the installation at `dataDir`. */
export function defaultKeyFile(env: EnvVars, dataDir: string, uid = currentUid()): string {
  const dir = defaultKeyDir(env, uid);
  if (path.resolve(dataDir) === defaultDataDir(env, uid)) return path.join(dir, 'master.key');
  const tag = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 12);
  return path.join(dir, `master-${tag}.key`);
}

/** Where master keys were generated before key_file existed: beside the catalog. Still used when found. */
export const legacyKeyFile = (dataDir: string) => path.join(dataDir, 'master.key');

/**
 * Where data_dir defaulted to before it was absolute: `.plexichat` in the folder `npm start` ran from,
 * which for the README's commands is the application's folder. Used only while the new default is empty.
 */
export const legacyDataDir = (appRoot: string) => path.join(appRoot, '.plexichat');

/** Whether a folder holds an installation's catalog or key (what makes it worth keeping). */
export function holdsInstallation(dataDir: string): boolean {
  return existsSync(path.join(dataDir, 'catalog')) || existsSync(legacyKeyFile(dataDir));
}

/** The path with its longest existing prefix resolved through symbolic links. */
function real(p: string): string {
  const abs = path.resolve(p);
  for (let dir = abs, rest = ''; ; rest = path.join(path.basename(dir), rest), dir = path.dirname(dir)) {
    try {
      return path.join(realpathSync(dir), rest);
    } catch {
      if (path.dirname(dir) === dir) return abs;
    }
  }
}

/** Whether `child` is `parent` or inside it, symbolic links in the existing part of either resolved. */
export function isWithin(child: string, parent: string): boolean {
  const rel = path.relative(real(parent), real(child));
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}
