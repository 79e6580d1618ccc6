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

export { ROLES, type Role };

export interface PublicUser {
  id: string;
  email: string;
  name: string | null;
  role: Role;
  disabled: boolean;
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

export function toPublicUser(r: UserRow): PublicUser {
  return {
    id: r.id,
    email: r.email,
    name: r.name,
    role: r.role,
    disabled: r.disabled,
    lockedUntil: r.lockedUntil && r.lockedUntil.getTime() > Date.now() ? r.lockedUntil.toISOString() : null,
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
  return rows.map(toPublicUser);
}

export async function getUser(db: Db, id: string): Promise<PublicUser | null> {
  const [row] = await db.select().from(users).where(eq(users.id, id));
  return row ? toPublicUser(row) : null;
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

async function change(db: Db, id: string, actor: string, action: string, apply: (row: UserRow) => Partial<UserRow>, details: Record<string, unknown>, guardAdmin: (row: UserRow) => boolean): Promise<PublicUser> {
  const row = await db.transaction(async (tx) => {
    const [current] = await tx.select().from(users).where(eq(users.id, id)).for('update');
    if (!current) throw new UserError('NOT_FOUND', `User ${id} not found; refresh the user list.`);
    if (guardAdmin(current)) await assertAnotherAdmin(tx, id);
    const [updated] = await tx.update(users).set(apply(current)).where(eq(users.id, id)).returning();
    await tx.insert(auditEvents).values({ actor, action, target: current.email, details });
    return updated!;
  });
  return toPublicUser(row);
}

export function setRole(db: Db, id: string, role: Role, opts: { actor?: string } = {}): Promise<PublicUser> {
  if (!ROLES.includes(role)) throw new UserError('INVALID', `Unknown role "${role}"; use one of ${ROLES.join(', ')}.`);
  return change(db, id, opts.actor ?? 'system', 'user.set_role', () => ({ role }), { role }, (u) => u.role === 'admin' && role !== 'admin');
}

export function setDisabled(db: Db, id: string, disabled: boolean, opts: { actor?: string } = {}): Promise<PublicUser> {
  return change(
    db,
    id,
    opts.actor ?? 'system',
    disabled ? 'user.disable' : 'user.enable',
    () => (disabled ? { disabled } : { disabled, failedLogins: 0, lockedUntil: null }),
    {},
    (u) => disabled && u.role === 'admin',
  );
}

export async function setPassword(db: Db, id: string, password: string, opts: { actor?: string } = {}): Promise<PublicUser> {
  if (password.length < MIN_PASSWORD_LENGTH) throw new UserError('INVALID', `The password must be at least ${MIN_PASSWORD_LENGTH} characters long.`);
  const passwordHash = await hashPassword(password);
  return change(db, id, opts.actor ?? 'system', 'user.set_password', () => ({ passwordHash, failedLogins: 0, lockedUntil: null }), {}, () => false);
}
