/**
 * Users and roles in the catalog. Framework-free (no next/*), so the CLI can use it too
 * (`plexichat-backup user add`). Every change is audited in the same transaction; password hashes never
 * leave this module: every function returns a PublicUser.
 */
import { asc, count, eq } from 'drizzle-orm';
import { randomUUID } from 'node:crypto';
import type { Db } from '../../db/client';
import { auditEvents, ROLES, type Role, users } from '../../db/schema';
import { hashPassword, MIN_PASSWORD_LENGTH } from './password';
import { revokeUserSessions } from './sessions';
import { blocksByEmail, unlockEmail } from './throttle';

export { ROLES, type Role };

export interface PublicUser {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  disabled: boolean;
  /** The latest sign-in block in force on this email (from some client, or for every unknown client), if any. */
  lockedUntil: string | null;
  createdAt: string;
  lastLoginAt: string | null;
}

export class UserError extends Error {
  override readonly name = 'UserError';
  constructor(
    readonly code: 'INVALID' | 'CONFLICT' | 'NOT_FOUND',
    message: string,
  ) {
    super(message);
  }
}

type UserRow = typeof users.$inferSelect;

export function toPublicUser(r: UserRow, lockedUntil: Date | null = null): PublicUser {
  return {
    id: r.id,
    email: r.email,
    name: r.name,
    role: r.role,
    disabled: r.disabled,
    lockedUntil: lockedUntil ? lockedUntil.toISOString() : null,
    createdAt: r.createdAt.toISOString(),
    lastLoginAt: r.lastLoginAt ? r.lastLoginAt.toISOString() : null,
  };
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase();

const EMAIL = /^[^\s@]+@[^\s@]+$/;

export interface NewUser {
  email: string;
  password: string;
  role: Role;
  name?: string | null;
}

export async function createUser(db: Db, input: NewUser, opts: { actor?: string } = {}): Promise<PublicUser> {
  const email = normalizeEmail(input.email);
  if (!EMAIL.test(email)) throw new UserError('INVALID', `"${input.email}" is not an email address.`);
  if (!ROLES.includes(input.role)) throw new UserError('INVALID', `Unknown role "${input.role}"; use one of ${ROLES.join(', ')}.`);
  if (input.password.length < MIN_PASSWORD_LENGTH) throw new UserError('INVALID', `The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  const passwordHash = await hashPassword(input.password);
  const row = await db.transaction(async (tx) => {
    const [created] = await tx
      .insert(users)
      .values({ id: randomUUID(), email, name: input.name?.trim() || null, passwordHash, role: input.role })
      .onConflictDoNothing({ target: users.email })
      .returning();
    if (!created) throw new UserError('CONFLICT', `A user with the email ${email} already exists.`);
    await tx.insert(auditEvents).values({ actor: opts.actor ?? 'system', action: 'user.create', target: email, details: { role: input.role } });
    return created;
  });
  return toPublicUser(row);
}

export async function listUsers(db: Db): Promise<PublicUser[]> {
  const rows = await db.select().from(users).orderBy(asc(users.createdAt), asc(users.email));
  const blocks = await blocksByEmail(db, rows.map((r) => r.email), new Date());
  return rows.map((r) => toPublicUser(r, blocks.get(r.email) ?? null));
}

export async function getUser(db: Db, id: string): Promise<PublicUser | null> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  if (!row) return null;
  const blocks = await blocksByEmail(db, [row.email], new Date());
  return toPublicUser(row, blocks.get(row.email) ?? null);
}

export async function countUsers(db: Db): Promise<number> {
  const [r] = await db.select({ n: count() }).from(users);
  return r?.n ?? 0;
}

/** Refuses a change that would leave no enabled admin: someone must always be able to manage users. */
async function assertAnotherAdmin(tx: Pick<Db, 'select'>, exceptId: string): Promise<void> {
  const admins = await tx.select({ id: users.id, disabled: users.disabled }).from(users).where(eq(users.role, 'admin'));
  if (!admins.some((a) => a.id !== exceptId && !a.disabled)) {
    throw new UserError('CONFLICT', 'This is the last enabled admin; make another user admin first.');
  }
}

type Tx = Parameters<Parameters<Db['transaction']>[0]>[0];

async function lockUser(tx: Tx, id: string): Promise<UserRow> {
  const [current] = await tx.select().from(users).where(eq(users.id, id)).for('update');
  if (!current) throw new UserError('NOT_FOUND', `User ${id} not found; refresh the user list.`);
  return current;
}

async function change(
  db: Db,
  id: string,
  actor: string,
  action: string,
  apply: (row: UserRow) => Partial<UserRow>,
  details: Record<string, unknown>,
  guardAdmin: (row: UserRow) => boolean,
  /** More work in the same transaction; what it returns is added to the audit details. */
  also?: (tx: Tx, row: UserRow) => Promise<Record<string, unknown>>,
  /** Refused on the actor's own account (by email), with this reason. */
  notOnSelf?: string,
): Promise<PublicUser> {
  const row = await db.transaction(async (tx) => {
    const current = await lockUser(tx, id);
    if (notOnSelf && current.email === normalizeEmail(actor)) throw new UserError('CONFLICT', notOnSelf);
    if (guardAdmin(current)) await assertAnotherAdmin(tx, id);
    const patch = apply(current);
    const [updated] = Object.keys(patch).length ? await tx.update(users).set(patch).where(eq(users.id, id)).returning() : [current];
    const extra = also ? await also(tx, current) : {};
    await tx.insert(auditEvents).values({ actor, action, target: current.email, details: { ...details, ...extra } });
    return updated!;
  });
  return getUser(db, row.id).then((u) => u ?? toPublicUser(row));
}

export function setRole(db: Db, id: string, role: Role, opts: { actor?: string } = {}): Promise<PublicUser> {
  if (!ROLES.includes(role)) throw new UserError('INVALID', `Unknown role "${role}"; use one of ${ROLES.join(', ')}.`);
  return change(
    db,
    id,
    opts.actor ?? 'system',
    'user.set_role',
    () => ({ role }),
    { role },
    (u) => u.role === 'admin' && role !== 'admin',
    undefined,
    'You cannot change your own role; ask another admin.',
  );
}

/** Disabling ends every session of the user at once (in the same transaction) and is refused on yourself. */
export function setDisabled(db: Db, id: string, disabled: boolean, opts: { actor?: string } = {}): Promise<PublicUser> {
  return change(
    db,
    id,
    opts.actor ?? 'system',
    disabled ? 'user.disable' : 'user.enable',
    () => ({ disabled }),
    {},
    (u) => disabled && u.role === 'admin',
    disabled ? async (tx, row) => ({ sessions_revoked: await revokeUserSessions(tx, row.id) }) : undefined,
    disabled ? 'You cannot disable your own account; ask another admin.' : undefined,
  );
}

/**
 * Deletes an account: its sessions end (the rows go with it), its audit entries stay (they name the email).
 * Refused on yourself and on the last enabled admin. One transaction, audited as user.delete.
 */
export async function deleteUser(db: Db, id: string, opts: { actor?: string } = {}): Promise<PublicUser> {
  const actor = opts.actor ?? 'system';
  return db.transaction(async (tx) => {
    const current = await lockUser(tx, id);
    if (current.email === normalizeEmail(actor)) throw new UserError('CONFLICT', 'You cannot delete your own account; ask another admin.');
    if (current.role === 'admin') await assertAnotherAdmin(tx, id);
    const sessionsEnded = await revokeUserSessions(tx, id);
    await tx.delete(users).where(eq(users.id, id));
    await tx.insert(auditEvents).values({ actor, action: 'user.delete', target: current.email, details: { role: current.role, sessions_revoked: sessionsEnded } });
    return toPublicUser(current);
  });
}

/**
 * Sets a new password (an admin's reset, or `user passwd`): every session of the user ends, and sign-in
 * blocks on the email are lifted so the user can use the new password at once. One transaction, audited.
 */
export async function setPassword(db: Db, id: string, password: string, opts: { actor?: string } = {}): Promise<PublicUser> {
  if (password.length < MIN_PASSWORD_LENGTH) throw new UserError('INVALID', `The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  if (password.length > 1024) throw new UserError('INVALID', 'The password must be at most 1024 characters long.');
  const passwordHash = await hashPassword(password);
  return change(db, id, opts.actor ?? 'system', 'user.set_password', () => ({ passwordHash }), {}, () => false, async (tx, row) => ({
    sessions_revoked: await revokeUserSessions(tx, row.id),
    blocks_lifted: await unlockEmail(tx, row.email, new Date()),
  }));
}

/** Lifts every sign-in block on the user's email (from every client). Audited, also when nothing was blocked. */
export function unlockUser(db: Db, id: string, opts: { actor?: string } = {}): Promise<PublicUser> {
  return change(db, id, opts.actor ?? 'system', 'user.unlock', () => ({}), {}, () => false, async (tx, row) => ({
    blocks_lifted: await unlockEmail(tx, row.email, new Date()),
  }));
}

export async function findUserByEmail(db: Db, email: string): Promise<PublicUser | null> {
  const [row] = await db.select({ id: users.id }).from(users).where(eq(users.email, normalizeEmail(email)));
  return row ? getUser(db, row.id) : null;
}
