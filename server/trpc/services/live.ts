/** The real services behind the procedures: the process-wide engine and its catalog. */
import { count, desc } from 'drizzle-orm';
import type { Db } from '../../../db/client';
import { auditEvents } from '../../../db/schema';
import { auditConditions } from '../../audit/filter';
import { createUser, deleteUser, listUsers, setDisabled, setPassword, setRole, unlockUser } from '../../auth/users';
import { getDb, getEngine } from '../../context';
import type { AuditApi, AuditFilter, Services, UsersApi } from './types';

function usersApi(db: Db): UsersApi {
  return {
    list: () => listUsers(db),
    create: (input, actor) => createUser(db, input, { actor }),
    setRole: (id, role, actor) => setRole(db, id, role, { actor }),
    setDisabled: (id, disabled, actor) => setDisabled(db, id, disabled, { actor }),
    unlock: (id, actor) => unlockUser(db, id, { actor }),
    setPassword: (id, password, actor) => setPassword(db, id, password, { actor }),
    remove: (id, actor) => deleteUser(db, id, { actor }),
  };
}

function auditApi(db: Db): AuditApi {
  return {
    async list(f: AuditFilter) {
      const cond = auditConditions(f);
      const [rows, [total]] = await Promise.all([
        db.select().from(auditEvents).where(cond).orderBy(desc(auditEvents.at), desc(auditEvents.id)).limit(f.limit).offset(f.offset),
        db.select({ n: count() }).from(auditEvents).where(cond),
      ]);
      return {
        events: rows.map((r) => ({ id: r.id, at: r.at.toISOString(), actor: r.actor, action: r.action, target: r.target, outcome: r.outcome, details: r.details })),
        total: total?.n ?? 0,
      };
    },
  };
}

export const liveServices: Services = {
  engine: getEngine,
  users: async () => usersApi(await getDb()),
  audit: async () => auditApi(await getDb()),
};
