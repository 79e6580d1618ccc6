/**
 * Account administration rules, against a real catalog (embedded, and PostgreSQL when TEST_DATABASE_URL is
 * set): deleting and disabling end the user's sessions; nobody deletes, disables or re-roles themselves;
 * the last enabled admin stays; every change is audited; `plexichat-backup user delete` follows the same rules.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { desc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../db/client';
import { auditEvents } from '../../db/schema';
import { createSession, sessionUser } from '../../server/auth/sessions';
import { createUser, deleteUser, listUsers, setDisabled, setRole } from '../../server/auth/users';
import { CATALOG_MODES, makeEnv, type TestEnv } from '../support/engine-env';

const run = promisify(execFile);
const PASSWORD = 'account-password-1';

describe.each(CATALOG_MODES)('user administration (%s catalog)', (mode) => {
  let t: TestEnv;
  let db: Db;
  const lastAudit = async (action: string) => (await db.select().from(auditEvents).where(eq(auditEvents.action, action)).orderBy(desc(auditEvents.id)).limit(1))[0];

  beforeAll(async () => {
    t = await makeEnv(mode);
    db = (await t.open()).catalog.db;
  }, 300_000);
  afterAll(async () => t?.cleanup());

  it('deleting a user ends every one of its sessions (and no one else’s), is audited, and keeps its audit entries', async () => {
    const admin = await createUser(db, { email: 'boss@corp.test', password: PASSWORD, role: 'admin' });
    const gone = await createUser(db, { email: 'leaver@corp.test', password: PASSWORD, role: 'operator' }, { actor: admin.email });
    const [s1, s2, keep] = [await createSession(db, gone.id, null), await createSession(db, gone.id, null), await createSession(db, admin.id, null)];
    expect(await sessionUser(db, s1)).not.toBeNull();
    expect(await deleteUser(db, gone.id, { actor: admin.email })).toMatchObject({ email: 'leaver@corp.test' });
    expect(await sessionUser(db, s1)).toBeNull();
    expect(await sessionUser(db, s2)).toBeNull();
    expect(await sessionUser(db, keep)).toMatchObject({ id: admin.id });
    expect((await listUsers(db)).map((u) => u.email)).not.toContain('leaver@corp.test');
    expect(await lastAudit('user.delete')).toMatchObject({ actor: admin.email, target: 'leaver@corp.test', details: { role: 'operator', sessions_revoked: 2 } });
    expect(await lastAudit('user.create')).toMatchObject({ target: 'leaver@corp.test' });
    await expect(deleteUser(db, gone.id, { actor: admin.email })).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('nobody deletes, disables or changes the role of their own account', async () => {
    const admin = (await listUsers(db)).find((u) => u.email === 'boss@corp.test')!;
    await createUser(db, { email: 'second-admin@corp.test', password: PASSWORD, role: 'admin' });
    // Another enabled admin exists, so only the self rule can refuse these.
    await expect(deleteUser(db, admin.id, { actor: 'Boss@corp.test' })).rejects.toMatchObject({ code: 'CONFLICT', message: /your own account/ });
    await expect(setDisabled(db, admin.id, true, { actor: admin.email })).rejects.toMatchObject({ code: 'CONFLICT', message: /your own account/ });
    await expect(setRole(db, admin.id, 'viewer', { actor: admin.email })).rejects.toMatchObject({ code: 'CONFLICT', message: /your own role/ });
    expect((await listUsers(db)).find((u) => u.id === admin.id)).toMatchObject({ role: 'admin', disabled: false });
  });

  it('the last enabled admin cannot be deleted, disabled or demoted', async () => {
    const admins = (await listUsers(db)).filter((u) => u.role === 'admin');
    const boss = admins.find((u) => u.email === 'boss@corp.test')!;
    const second = admins.find((u) => u.email === 'second-admin@corp.test')!;
    await setDisabled(db, second.id, true, { actor: boss.email });
    // boss is now the only enabled admin: someone else (the CLI) still may not remove it.
    await expect(deleteUser(db, boss.id, { actor: 'cli:root' })).rejects.toMatchObject({ code: 'CONFLICT', message: /last enabled admin/ });
    await expect(setDisabled(db, boss.id, true, { actor: 'cli:root' })).rejects.toMatchObject({ code: 'CONFLICT', message: /last enabled admin/ });
    await expect(setRole(db, boss.id, 'operator', { actor: 'cli:root' })).rejects.toMatchObject({ code: 'CONFLICT', message: /last enabled admin/ });
    // A disabled admin can go.
    expect(await deleteUser(db, second.id, { actor: boss.email })).toMatchObject({ email: 'second-admin@corp.test' });
  });

  it('disabling a user ends its sessions at once; enabling does not bring them back', async () => {
    const u = await createUser(db, { email: 'paused@corp.test', password: PASSWORD, role: 'viewer' });
    const sid = await createSession(db, u.id, '192.0.2.5');
    await setDisabled(db, u.id, true, { actor: 'boss@corp.test' });
    expect(await sessionUser(db, sid)).toBeNull();
    expect(await lastAudit('user.disable')).toMatchObject({ target: 'paused@corp.test', details: { sessions_revoked: 1 } });
    await setDisabled(db, u.id, false, { actor: 'boss@corp.test' });
    expect(await sessionUser(db, sid)).toBeNull();
  });

  it('CLI: user delete needs --yes, ends the sessions, and refuses the last enabled admin', async () => {
    const cli = (args: string[]) => run(process.execPath, [path.resolve('bin/plexichat-backup.mjs'), ...args], { env: { ...t.env } as NodeJS.ProcessEnv, timeout: 120_000 });
    const u = await createUser(db, { email: 'cli-leaver@corp.test', password: PASSWORD, role: 'viewer' });
    const sid = await createSession(db, u.id, null);
    const unconfirmed = await cli(['user', 'delete', '--email', 'cli-leaver@corp.test']).catch((e: { code: number; stderr: string }) => e);
    expect(unconfirmed).toMatchObject({ code: 2 });
    expect((unconfirmed as { stderr: string }).stderr).toContain('add --yes');
    expect(await sessionUser(db, sid)).not.toBeNull();

    const deleted = await cli(['user', 'delete', '--email', 'CLI-Leaver@corp.test', '--yes', '--json']);
    expect(JSON.parse(deleted.stdout)).toMatchObject({ deleted: { email: 'cli-leaver@corp.test', role: 'viewer' } });
    expect(await sessionUser(db, sid)).toBeNull();
    expect(await lastAudit('user.delete')).toMatchObject({ actor: expect.stringMatching(/^cli:/), target: 'cli-leaver@corp.test' });

    const last = await cli(['user', 'delete', '--email', 'boss@corp.test', '--yes']).catch((e: { code: number; stderr: string }) => e);
    expect(last).toMatchObject({ code: 6 });
    expect((last as { stderr: string }).stderr).toContain('last enabled admin');
  }, 300_000);
});
