/** First start: with no user in the catalog, create the first admin. Framework-free. */
import type { Db } from '../../db/client';
import { generatePassword } from './password';
import { countUsers, createUser, UserError } from './users';

export interface FirstAdminOptions {
  email?: string;
  password?: string;
  log: (line: string) => void;
}

export async function ensureFirstAdmin(db: Db, opts: FirstAdminOptions): Promise<void> {
  if ((await countUsers(db)) > 0) return;
  const email = opts.email?.trim() || 'admin@localhost';
  const generated = !opts.password;
  const password = opts.password || generatePassword();
  try {
    await createUser(db, { email, password, role: 'admin', name: 'Administrator' }, { actor: 'system' });
  } catch (err) {
    // Another process (a second console instance) created it first.
    if (err instanceof UserError && err.code === 'CONFLICT') return;
    throw err;
  }
  if (generated) {
    // Printed once, on purpose: the only way to learn a generated first password.
    opts.log(
      `Created the first admin: email ${email}, password ${password}\n` +
        `  Sign in and create your own users; this password is not shown again. (Set PLEXICHAT_ADMIN_EMAIL and PLEXICHAT_ADMIN_PASSWORD to choose them.)`,
    );
  } else {
    opts.log(`Created the first admin ${email} (password from PLEXICHAT_ADMIN_PASSWORD).`);
  }
}
