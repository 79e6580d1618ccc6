/**
 * The permission matrix: the one place that says who may call what. Every tRPC procedure is listed here
 * by its path; the middleware in init.ts checks it on every call, and a procedure missing from this list
 * is refused for everyone (and fails the permission test). The console reads the same list to hide
 * controls a role may not use, but the server is what forbids.
 */
import type { Role } from '../../db/schema';

export const ACTIONS = ['view', 'create', 'restore', 'verify', 'repair', 'delete', 'configure', 'manage_users', 'read_audit', 'manage_schedules', 'acknowledge_alerts'] as const;
export type Action = (typeof ACTIONS)[number];

/** The spec's roles: admin (create, delete, restore, configure, users), operator (create, restore, view), viewer (view). */
export const ROLE_ACTIONS: Record<Role, readonly Action[]> = {
  admin: ACTIONS,
  operator: ['view', 'create', 'restore', 'verify', 'repair', 'manage_schedules', 'acknowledge_alerts'],
  viewer: ['view'],
};

export const PROCEDURE_ACTIONS = {
  'auth.me': 'view',
  'backup.create': 'create',
  'backup.list': 'view',
  'backup.get': 'view',
  'backup.progress': 'view',
  'backup.shardMap': 'view',
  'backup.files': 'view',
  'backup.verify': 'verify',
  'backup.repair': 'repair',
  'backup.recover': 'restore',
  'backup.restoreProgress': 'restore',
  'backup.delete': 'delete',
  // Releases a backup retention was holding (the last good one before a suspicious backup): admins only.
  'backup.acknowledge': 'delete',
  'storage.usage': 'view',
  'storage.health': 'view',
  'storage.listLocations': 'configure',
  'storage.addLocation': 'configure',
  'storage.updateLocation': 'configure',
  'storage.testLocation': 'configure',
  'storage.disableLocation': 'configure',
  'storage.optimize': 'configure',
  'storage.gc': 'configure',
  'stats.get': 'view',
  'users.list': 'manage_users',
  'users.create': 'manage_users',
  'users.setRole': 'manage_users',
  'users.disable': 'manage_users',
  'users.unlock': 'manage_users',
  'users.resetPassword': 'manage_users',
  'users.delete': 'manage_users',
  'audit.list': 'read_audit',
  'schedules.list': 'view',
  'schedules.preview': 'view',
  'schedules.create': 'manage_schedules',
  'schedules.update': 'manage_schedules',
  'schedules.pause': 'manage_schedules',
  'schedules.resume': 'manage_schedules',
  'schedules.remove': 'manage_schedules',
  'schedules.runNow': 'manage_schedules',
  'alerts.list': 'view',
  'alerts.get': 'view',
  'alerts.history': 'view',
  'alerts.acknowledge': 'acknowledge_alerts',
  'alerts.settings': 'configure',
  'alerts.updateSettings': 'configure',
  'alerts.resetSettings': 'configure',
  'alerts.sendTest': 'configure',
  'keys.status': 'configure',
  'keys.escrow': 'configure',
  'reports.health': 'view',
  'reports.metrics': 'view',
  'drills.list': 'view',
  'drills.run': 'verify',
  'restores.list': 'view',
  'restores.get': 'view',
} as const satisfies Record<string, Action>;

export type ProcedurePath = keyof typeof PROCEDURE_ACTIONS;

export function actionFor(path: string): Action | undefined {
  return Object.hasOwn(PROCEDURE_ACTIONS, path) ? PROCEDURE_ACTIONS[path as ProcedurePath] : undefined;
}

export function can(role: Role, path: string): boolean {
  const action = actionFor(path);
  // A role the matrix does not know (a users row edited by hand, or from a newer version) may do nothing.
  const actions: readonly Action[] | undefined = Object.hasOwn(ROLE_ACTIONS, role) ? ROLE_ACTIONS[role] : undefined;
  return action !== undefined && actions !== undefined && actions.includes(action);
}

/** Procedure paths this role may call (what the console uses to decide which controls to show). */
export function allowedProcedures(role: Role): ProcedurePath[] {
  return (Object.keys(PROCEDURE_ACTIONS) as ProcedurePath[]).filter((p) => can(role, p));
}
