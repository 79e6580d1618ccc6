/**
 * `plexichat-backup user …`: add, unlock (lift sign-in blocks), passwd (set a password; ends the user's
 * sessions), delete (ends the user's sessions). The CLI is a local shell user with full access, like
 * `user add` always was; every change is audited as `cli:<os user>`.
 */
import { parseArgs } from 'node:util';
import type { BackupEngine } from '../engine/engine';
import { EngineError } from '../engine/errors';
import { cliActor } from './actor';
import { UsageError } from './output';
import { USER_HELP } from './help.mjs';

interface Result {
  json?: unknown;
  text?: string;
  code?: number;
}


const USAGE = `Usage:\n${USER_HELP}`;

function parse(args: string[]) {
  try {
    return parseArgs({
      args,
      options: { json: { type: 'boolean', default: false }, yes: { type: 'boolean', default: false }, email: { type: 'string' }, password: { type: 'string' }, role: { type: 'string' }, name: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}.\n${USAGE}`);
  }
}

const actor = cliActor;

/** The password from stdin: typed without echo on a terminal, else the first line of what is piped in. */
export async function readPassword(stdin: NodeJS.ReadStream = process.stdin): Promise<string> {
  if (stdin.isTTY) {
    process.stderr.write('New password: ');
    stdin.setRawMode(true);
    try {
      return await new Promise<string>((resolve, reject) => {
        let typed = '';
        const onData = (chunk: Buffer) => {
          for (const ch of chunk.toString('utf8')) {
            if (ch === '\r' || ch === '\n') return done(() => resolve(typed));
            if (ch === '\u0003') return done(() => reject(new UsageError('Cancelled.')));
            if (ch === '\u007f' || ch === '\b') typed = typed.slice(0, -1);
            else typed += ch;
          }
        };
        const done = (then: () => void) => {
          stdin.off('data', onData);
          stdin.pause();
          process.stderr.write('\n');
          then();
        };
        stdin.on('data', onData);
        stdin.resume();
      });
    } finally {
      stdin.setRawMode(false);
    }
  }
  let text = '';
  for await (const chunk of stdin) text += String(chunk);
  return text.split(/\r?\n/)[0] ?? '';
}

async function withUserErrors<T>(fn: () => Promise<T>): Promise<T> {
  const { UserError } = await import('../auth/users');
  try {
    return await fn();
  } catch (err) {
    if (err instanceof UserError) throw new EngineError(err.code, err.message);
    throw err;
  }
}

export async function runUserCommand(cmd: string, args: string[], open: () => Promise<BackupEngine>): Promise<Result | undefined> {
  if (cmd !== 'user') return undefined;
  const { values: v, positionals } = parse(args);
  const sub = positionals[0];
  const users = await import('../auth/users');
  const email = v.email === undefined ? undefined : String(v.email);
  const byEmail = async (db: BackupEngine['catalog']['db']) => {
    if (!email) throw new UsageError(`user ${sub} needs --email E.\n${USAGE}`);
    const u = await users.findUserByEmail(db, email);
    if (!u) throw new EngineError('NOT_FOUND', `No user has the email ${email}; list them in the console (Users) or add one with plexichat-backup user add.`);
    return u;
  };
  switch (sub) {
    case 'add': {
      if (!email || !v.password || !v.role) throw new UsageError('user add needs --email, --password and --role (admin, operator or viewer).');
      const db = (await open()).catalog.db;
      const u = await withUserErrors(() =>
        users.createUser(db, { email, password: String(v.password), role: String(v.role) as 'admin', name: v.name as string | undefined }, { actor: actor() }),
      );
      return { json: u, text: `Created ${u.role} ${u.email}` };
    }
    case 'unlock': {
      const db = (await open()).catalog.db;
      const target = await byEmail(db);
      const u = await withUserErrors(() => users.unlockUser(db, target.id, { actor: actor() }));
      return { json: u, text: `Unlocked ${u.email}: it can sign in from every client again.` };
    }
    case 'passwd': {
      if (!email) throw new UsageError(`user passwd needs --email E.\n${USAGE}`);
      // Read before opening the catalog, so a piped password is consumed even if opening is slow.
      const password = v.password !== undefined ? String(v.password) : await readPassword();
      if (!password) throw new UsageError('No password given: pass --password P or write it on stdin.');
      const db = (await open()).catalog.db;
      const target = await byEmail(db);
      const u = await withUserErrors(() => users.setPassword(db, target.id, password, { actor: actor() }));
      return { json: u, text: `Set a new password for ${u.email}; its sessions have ended and it must sign in again.` };
    }
    case 'delete': {
      if (!email) throw new UsageError(`user delete needs --email E.\n${USAGE}`);
      if (!v.yes) throw new UsageError(`user delete cannot be undone: add --yes to delete ${email}.`);
      const db = (await open()).catalog.db;
      const target = await byEmail(db);
      const u = await withUserErrors(() => users.deleteUser(db, target.id, { actor: actor() }));
      return { json: { deleted: u }, text: `Deleted ${u.role} ${u.email}; its sessions have ended. Its audit entries stay.` };
    }
    default:
      throw new UsageError(USAGE);
  }
}
