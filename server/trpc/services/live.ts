/** The real services behind the procedures: the process-wide engine and its catalog. */
import type { Db } from '../../../db/client';
import { listAudit } from '../../audit/list';
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

export function auditApi(db: Db): AuditApi {
  return { list: (f: AuditFilter) => listAudit(db, f) };
}

export const liveServices: Services = {
  engine: getEngine,
  users: async () => usersApi(await getDb()),
  audit: async () => auditApi(await getDb()),
};
