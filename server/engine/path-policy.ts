/**
 * Which paths on the server a console or API user may back up from and restore into. The CLI (a local shell
 * user) is not limited by it; the tRPC procedures and the schedule runner call it.
 *
 * - Operators back up only under `allowed_backup_paths` and restore only under `allowed_restore_paths`
 *   (unset: no server paths at all); only admins may overwrite during a restore.
 * - Nobody may back up or restore into the installation's own files: the data directory (embedded catalog,
 *   generated master key, auth secret), the master key file and its rotation companions, the config file,
 *   and every storage location's path (config file and console-added ones) — nor a directory that contains
 *   one of them, since backing up `/` would include the keys and restoring into `/` could replace them.
 * - Everything is checked on real paths: every symlink resolved (`realpath`), `..` refused; a restore target
 *   that does not exist yet is resolved through its deepest existing ancestor. Callers check again when the
 *   job starts (a symlink swapped in between), and a schedule's paths are checked when it runs.
 *
 * It lives in the engine floor because it needs only the config and the catalog, and both the tRPC faces and
 * the jobs (schedule runner) use it; refusals are EngineErrors with code FORBIDDEN (a 403 in the console),
 * each naming its rule, and are audited with outcome "denied".
 */
import { lstat, realpath } from 'node:fs/promises';
import path from 'node:path';
import type { Db } from '../../db/client';
import { embeddedPaths } from '../../db/paths';
import { storageLocations } from '../../db/schema';
import type { Config, StorageLocationConfig } from '../config';
import type { AuditInput } from './types';
import { EngineError } from './errors';
import { previousKeyFile } from './keys/keys';

export type PolicyRole = 'admin' | 'operator' | 'viewer';

/** Who chose the paths: a console or API user. */
export interface PathActor {
  email: string;
  role: PolicyRole;
}

/** What the console shows in its forms (null: not limited by a list). */
export interface PathPolicyView {
  backupRoots: string[] | null;
  restoreRoots: string[] | null;
  mayOverwrite: boolean;
}

/** A path of the installation that no console or API user may back up or restore into. */
export interface ProtectedPath {
  what: string;
  path: string;
}

export type PathRule = 'allowed_backup_paths' | 'allowed_restore_paths' | 'protected_paths' | 'restore_overwrite' | 'no_dotdot' | 'absolute_only' | 'dangling_symlink';

export interface PathPolicySettings {
  allowedBackupPaths: string[];
  allowedRestorePaths: string[];
  /** Read at every check, so console-added locations and key files that appear later count at once. */
  protectedPaths: () => Promise<ProtectedPath[]>;
  /** Where refusals are recorded (engine.audit); nothing is recorded without it. */
  audit?: (e: AuditInput) => Promise<void>;
}

interface CheckOptions {
  /** The audited action, e.g. "backup.create". */
  action: string;
  /** Who the audit names, when not the actor's email (e.g. "schedule:nightly"). */
  auditActor?: string;
  /** Extra audit details (e.g. the schedule's creator). */
  details?: Record<string, unknown>;
}

/** A refusal naming its rule; code FORBIDDEN (403). */
export function pathRefusal(rule: PathRule, message: string, target: string): EngineError {
  return new EngineError('FORBIDDEN', message, { rule, path: target });
}

const inside = (p: string, root: string) => p === root || root === path.sep || p.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
const overlaps = (a: string, b: string) => inside(a, b) || inside(b, a);
const errno = (err: unknown) => (err as NodeJS.ErrnoException).code;

/**
 * The real path of `p` (absolute): every symlink resolved. A path that does not exist (yet) is resolved
 * through its deepest existing ancestor, the missing rest appended; a dangling symlink on the way is refused,
 * since creating through it would write wherever it points.
 */
export async function realPathOf(p: string): Promise<string> {
  const missing: string[] = [];
  let cur = path.resolve(p);
  for (;;) {
    try {
      return path.join(await realpath(cur), ...missing.reverse());
    } catch (err) {
      const code = errno(err);
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw err;
      const link = await lstat(cur).then(
        (st) => st.isSymbolicLink(),
        () => false,
      );
      if (link) throw pathRefusal('dangling_symlink', `${cur} is a symbolic link whose target does not exist; give a real directory.`, p);
      const parent = path.dirname(cur);
      if (parent === cur) return path.resolve(p);
      missing.push(path.basename(cur));
      cur = parent;
    }
  }
}

const rootsText = (roots: string[]) => roots.join(', ');

/** An open engine, or anything with its config, catalog and (optionally) its live storage locations. */
export interface Installation {
  config: Config;
  catalog: { db: Db };
  locations?: { all: { config: StorageLocationConfig }[] };
}

export class PathPolicy {
  constructor(private readonly s: PathPolicySettings) {}

  /**
   * The policy of an installation: the config's lists and protected files, plus the storage locations added
   * from the console (read from the catalog at every check). `audit` records refusals (engine.audit).
   */
  static forInstallation(i: Installation, audit?: (e: AuditInput) => Promise<void>): PathPolicy {
    return new PathPolicy({
      allowedBackupPaths: i.config.allowed_backup_paths,
      allowedRestorePaths: i.config.allowed_restore_paths,
      protectedPaths: () => installationPaths(i),
      audit,
    });
  }

  /** What the console's forms show for a role. */
  view(role: PolicyRole): PathPolicyView {
    if (role === 'admin') return { backupRoots: null, restoreRoots: null, mayOverwrite: true };
    if (role === 'operator') return { backupRoots: [...this.s.allowedBackupPaths], restoreRoots: [...this.s.allowedRestorePaths], mayOverwrite: false };
    return { backupRoots: [], restoreRoots: [], mayOverwrite: false };
  }

  /**
   * Checks the sources of a backup (or a schedule) chosen by `actor`; returns their real paths. With
   * `mustExist: false` (a schedule saved before its directory exists) a missing path is resolved through its
   * deepest existing ancestor; a run checks again with the path in place.
   */
  async checkBackupSources(actor: PathActor, paths: string[], opts: CheckOptions & { mustExist?: boolean }): Promise<string[]> {
    return this.audited(actor, opts, async () => {
      const out: string[] = [];
      for (const p of paths) {
        const lexical = this.syntax(p);
        if (actor.role !== 'admin') await this.assertUnderRoots(lexical, this.s.allowedBackupPaths, 'allowed_backup_paths', 'back up', p, null);
        let real: string;
        if (opts.mustExist === false) real = await realPathOf(lexical);
        else {
          try {
            real = await realpath(lexical);
          } catch (err) {
            const why = errno(err) === 'ENOENT' ? 'it does not exist' : (err as Error).message;
            throw new EngineError('INVALID', `Cannot read source ${lexical}: ${why}. Check the path.`);
          }
        }
        if (actor.role !== 'admin') await this.assertUnderRoots(lexical, this.s.allowedBackupPaths, 'allowed_backup_paths', 'back up', p, real);
        await this.assertNotProtected(real, p, 'back up', actor.role);
        out.push(real);
      }
      return out;
    });
  }

  /** Checks a restore target chosen by `actor` (and whether they may overwrite); returns its real path. */
  async checkRestoreTarget(actor: PathActor, target: string, overwrite: boolean, opts: CheckOptions): Promise<string> {
    return this.audited(actor, opts, async () => {
      const lexical = this.syntax(target);
      if (actor.role !== 'admin') {
        await this.assertUnderRoots(lexical, this.s.allowedRestorePaths, 'allowed_restore_paths', 'restore', target, null);
        if (overwrite) throw pathRefusal('restore_overwrite', 'Only admins may overwrite existing files during a restore; restore into an empty directory, or ask an admin.', target);
      }
      const real = await realPathOf(lexical);
      if (actor.role !== 'admin') await this.assertUnderRoots(lexical, this.s.allowedRestorePaths, 'allowed_restore_paths', 'restore', target, real);
      await this.assertNotProtected(real, target, 'restore into', actor.role);
      return real;
    });
  }

  private syntax(p: string): string {
    if (p.includes('\0')) throw new EngineError('INVALID', 'A path may not contain a NUL character.');
    if (p.split(/[\\/]/).includes('..')) throw pathRefusal('no_dotdot', `Paths may not contain ".." (${p}); give the directory itself.`, p);
    if (!path.isAbsolute(p)) throw pathRefusal('absolute_only', `Give an absolute path on the server (starting with "/"), not ${JSON.stringify(p)}.`, p);
    return path.resolve(p);
  }

  /**
   * Operators: the path must lie under one of the roots. Checked first on the path as given (so nothing
   * outside the roots is even looked at), then on its real path (a symlink inside a root pointing outside).
   */
  private async assertUnderRoots(lexical: string, roots: string[], rule: 'allowed_backup_paths' | 'allowed_restore_paths', verb: string, given: string, real: string | null): Promise<void> {
    const what = rule === 'allowed_backup_paths' ? 'give paths to back up' : 'restore to server paths';
    if (roots.length === 0) throw pathRefusal(rule, `Operators may not ${what}: ${rule} is not set. ${rule === 'allowed_backup_paths' ? 'Upload a file or run a schedule instead, or ask an admin.' : 'Ask an admin.'}`, given);
    const realRoots = await Promise.all(roots.map((r) => realPathOf(r).catch(() => path.resolve(r))));
    const candidate = real ?? lexical;
    const ok = real ? realRoots.some((r) => inside(real, r)) : roots.some((r, i) => inside(lexical, path.resolve(r)) || inside(lexical, realRoots[i]!));
    if (!ok) {
      const via = real && real !== lexical ? ` (it resolves to ${candidate})` : '';
      throw pathRefusal(rule, `Operators may ${verb} only under ${rule} (${rootsText(roots)}); ${given} is outside${via}. Ask an admin.`, given);
    }
  }

  private async assertNotProtected(real: string, given: string, verb: string, role: PolicyRole): Promise<void> {
    for (const prot of await this.s.protectedPaths()) {
      const forms = new Set([path.resolve(prot.path), await realPathOf(prot.path).catch(() => path.resolve(prot.path))]);
      for (const form of forms) {
        if (!overlaps(real, form)) continue;
        // Admins see which file is protected; operators learn the rule, not where the installation keeps its keys.
        const named = role === 'admin' ? `${prot.what} (${prot.path})` : prot.what;
        const message = inside(real, form)
          ? `Nobody may ${verb} the installation's own files from the console or API: ${given} is inside ${named}.`
          : `Nobody may ${verb} ${given} from the console or API: it contains ${named}. ${verb === 'back up' ? 'Back up the directories beside it instead.' : 'Choose a directory that does not contain it.'}`;
        throw pathRefusal('protected_paths', message, given);
      }
    }
  }

  private async audited<T>(actor: PathActor, opts: CheckOptions, check: () => Promise<T>): Promise<T> {
    try {
      return await check();
    } catch (err) {
      if (err instanceof EngineError && err.code === 'FORBIDDEN' && this.s.audit) {
        await this.s
          .audit({ actor: opts.auditActor ?? actor.email, action: opts.action, outcome: 'denied', details: { ...err.details, role: actor.role, reason: err.message, ...(opts.details ?? {}) } })
          .catch(() => undefined);
      }
      throw err;
    }
  }
}

/**
 * The installation's own paths: data directory (with the embedded catalog and the generated auth secret),
 * master key file and the files a rotation keeps beside it, the catalog's socket folder, the config file,
 * and every storage location's path and credentials file (config file, console-added rows in the catalog,
 * and the locations the running engine has loaded).
 */
export async function installationPaths(i: Installation): Promise<ProtectedPath[]> {
  const { config } = i;
  const out: ProtectedPath[] = [{ what: "the installation's data directory", path: config.data_dir }];
  // bin/start.mjs keeps a generated AUTH_SECRET here (inside the data dir, listed for a clear message).
  out.push({ what: 'the console auth secret', path: path.join(config.data_dir, 'auth-secret') });
  const embedded = embeddedPaths(config.data_dir);
  if (!config.database_url) out.push({ what: 'the embedded catalog', path: embedded.dbDir }, { what: "the embedded catalog's socket folder", path: embedded.socketDir });
  const key = config.master_key_source;
  if (key.kind === 'file') {
    out.push({ what: 'the master key file', path: key.path }, { what: 'the previous master key file', path: previousKeyFile(key.path) }, { what: 'the next master key file', path: `${key.path}.next` });
  }
  if (config.high_key_file) out.push({ what: 'the HIGH/MAXIMUM second-factor key file', path: path.resolve(config.high_key_file) });
  if (process.env.PLEXICHAT_CONFIG) out.push({ what: 'the configuration file', path: process.env.PLEXICHAT_CONFIG });
  const fromLocation = (loc: { name: string; type: string } & Record<string, unknown>) => {
    if (loc.type === 'local' && typeof loc.path === 'string' && loc.path) out.push({ what: `storage location "${loc.name}"`, path: loc.path });
    const creds = loc.credentials_json;
    if (typeof creds === 'string' && creds.trim() && !creds.trimStart().startsWith('{')) out.push({ what: `the credentials file of storage location "${loc.name}"`, path: creds });
  };
  for (const loc of config.storage_locations) fromLocation(loc);
  for (const l of i.locations?.all ?? []) fromLocation(l.config);
  // Console-added rows, also those this process has not loaded yet (credentials are sealed: only the path is read here).
  const rows = await i.catalog.db.select({ name: storageLocations.name, type: storageLocations.type, settings: storageLocations.settings }).from(storageLocations);
  for (const r of rows) fromLocation({ ...r.settings, name: r.name, type: r.type });
  return out.map((p) => ({ ...p, path: path.resolve(p.path) }));
}
